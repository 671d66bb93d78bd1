"""Schema checks that floats would get wrong."""

from __future__ import annotations

from jsonschema import Draft4Validator

from ocppj.endpoint import _float_artefact

SCHEMA = {"type": "object", "properties": {"limit": {"type": "number", "multipleOf": 0.1}}}


def test_one_decimal_values_pass_multiple_of_checks_that_floats_fail():
    (float_error,) = Draft4Validator(SCHEMA).iter_errors({"limit": 21.4})
    assert _float_artefact(float_error)  # 21.4 is a multiple of 0.1; floats disagree


def test_real_multiple_of_violations_are_kept():
    (error,) = Draft4Validator(SCHEMA).iter_errors({"limit": 21.45})
    assert not _float_artefact(error)
