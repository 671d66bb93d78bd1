"""Verified energy: a session's signed meter readings (OCMF) checked against its meter's
registered key, so that only energy a third party can verify is minted."""
