"""`evch replay` on real runs: the tampered_meter scenario's altered stop readings are found from
the recorded frames alone, explained, and shown to have minted nothing; every other session
reconciles; and a doctored run directory (CSMS row, frame, ledger log) is reported, never fixed."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from pyocmf.core.ocmf import OCMF
from typer.testing import CliRunner

from evch.cli import app
from ocmf import parse_record, unwrap_signed
from twin.replay import replay
from twin.replay.frames import read_frames
from twin.runner import run_scenario
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
TAMPERED = ROOT / "scenarios" / "tampered_meter.toml"
TAMPERER = "tehran-ac11-3"


@pytest.fixture(scope="module")
def tampered(tmp_path_factory) -> Path:
    out_dir = tmp_path_factory.mktemp("tampered_meter")
    asyncio.run(run_scenario(load_scenario(TAMPERED), out_dir))
    return out_dir


def doctored_copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


def test_the_tampering_charger_is_flagged_and_minted_nothing(tampered: Path):
    audit = replay(tampered)
    sessions = pd.read_parquet(tampered / "sessions.parquet")
    at_tamperer = sessions[sessions["charger_id"] == TAMPERER]
    assert len(at_tamperer) >= 3
    # Exactly the tampering charger's sessions, each for the altered signature.
    assert sorted(s.transaction_ref for s in audit.exceptions) == sorted(
        at_tamperer["transaction_id"].astype(str)
    )
    for session in audit.exceptions:
        assert session.reason.startswith("BAD_SIGNATURE: the signature of the stop reading")
        assert session.verified_energy_wh is None
        assert session.expected_mint_raw == 0 and session.minted_raw is None
    # The run completes and everything else reconciles: CSMS, frames and ledger agree.
    assert audit.reconciled, audit.differences
    assert len(audit.sessions) == len(sessions)
    verified = [s for s in audit.sessions if s not in audit.exceptions]
    assert all(s.verified_energy_wh == s.energy_wh for s in verified)
    manifest = json.loads((tampered / "manifest.json").read_text())
    assert manifest["unverified_sessions"] == {"BAD_SIGNATURE": len(at_tamperer)}
    assert sum(s.minted_raw or 0 for s in audit.sessions) == manifest["tokens"]["minted_raw"]
    assert manifest["tokens"]["reconciled"]


def test_the_reason_names_what_the_altered_record_claims(tampered: Path):
    """The stop record claims the inflated register (what meterStop said), which is what its
    signature no longer covers; an independent verifier (pyocmf) refuses it too."""
    log = read_frames(tampered / "ocpp_frames.jsonl")
    altered = [t for t in log.transactions if t.charger_id == TAMPERER]
    for tx in altered:
        carried = unwrap_signed(tx.signed_end)
        record = parse_record(carried.record)
        assert int(record.readings[-1].value) == tx.meter_stop_wh
        assert f"{tx.meter_stop_wh} Wh" in next(
            s.reason for s in replay(tampered).exceptions if s.transaction_ref == tx.transaction_ref
        )
        third_party = OCMF.from_string(carried.record)
        assert third_party.verify_signature(carried.public_key_der.hex()) is False
        begin = OCMF.from_string(unwrap_signed(tx.signed_begin).record)
        assert begin.verify_signature(carried.public_key_der.hex()) is True


def test_evch_replay_exits_0_writes_the_report_and_strict_fails_on_exceptions(tampered: Path):
    result = CliRunner().invoke(app, ["replay", str(tampered)])
    assert result.exit_code == 0, result.output
    assert "BAD_SIGNATURE" in result.output and "reconciled" in result.output
    page = (tampered / "report.html").read_text(encoding="utf-8")
    audit = replay(tampered)
    verified = len(audit.sessions) - len(audit.exceptions)
    assert _by_id(page, "sessions-count") == str(len(audit.sessions))
    assert _by_id(page, "verified-share").startswith(f"{verified} of {len(audit.sessions)}")
    assert _by_id(page, "verdict") == "Reconciled"
    assert (tampered / "report.pdf").read_bytes()[:4] == b"%PDF"
    strict = CliRunner().invoke(app, ["replay", "--strict", str(tampered)])
    assert strict.exit_code == 3


def test_a_csms_that_claims_verified_energy_for_a_tampered_session_is_a_difference(
    tampered: Path, tmp_path: Path
):
    run = doctored_copy(tampered, tmp_path)
    victim = replay(run).exceptions[0]
    with sqlite3.connect(run / "csms.sqlite") as db:
        db.execute(
            "UPDATE charging_sessions SET verification = 'verified', verification_reason = NULL "
            "WHERE session_id = ?",
            (victim.session_id,),
        )
    audit = replay(run)
    assert not audit.reconciled
    (difference,) = audit.differences
    assert victim.charger_id in difference and "the CSMS says verified" in difference
    assert CliRunner().invoke(app, ["replay", str(run)]).exit_code == 1


def test_a_cost_the_driver_was_not_told_is_a_difference(tampered: Path, tmp_path: Path):
    run = doctored_copy(tampered, tmp_path)
    frames = (run / "ocpp_frames.jsonl").read_text(encoding="utf-8").splitlines()
    index = _final_cost_answer(frames)
    record = json.loads(frames[index])
    frame = json.loads(record["frame"])
    frame[2]["totalCost"] = frame[2]["totalCost"] + 1
    record["frame"] = json.dumps(frame, separators=(",", ":"))
    frames[index] = json.dumps(record)
    (run / "ocpp_frames.jsonl").write_text("\n".join(frames) + "\n", encoding="utf-8")
    audit = replay(run)
    (difference,) = audit.differences
    assert f"{record['charger_id']} transaction" in difference
    assert "the driver was told" in difference


def test_a_mint_missing_from_the_ledger_log_is_a_difference(tampered: Path, tmp_path: Path):
    run = doctored_copy(tampered, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    program = manifest["ledger"]["proof_of_charge_program"]
    lines = (run / "ledger.jsonl").read_text(encoding="utf-8").splitlines()
    index = next(
        i
        for i, line in enumerate(lines)
        if f"Program return: {program}" in line and json.loads(line)["ok"]
    )
    del lines[index]
    (run / "ledger.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    audit = replay(run)
    (difference,) = audit.differences
    assert "verified energy but no Proof-of-Charge on the ledger" in difference


def test_a_directory_that_is_not_a_run_is_refused(tmp_path: Path):
    result = CliRunner().invoke(app, ["replay", str(tmp_path)])
    assert result.exit_code == 2 and "not a run directory" in result.output


def _final_cost_answer(frames: list[str]) -> int:
    """The line of the first answer to a 2.0.1 Ended event (it carries the final cost)."""
    ended = set()
    for index, line in enumerate(frames):
        record = json.loads(line)
        frame = json.loads(record["frame"])
        key = (record["charger_id"], frame[1])
        if record["dir"] == "in" and frame[0] == 2 and frame[2] == "TransactionEvent":
            if frame[3]["eventType"] == "Ended":
                ended.add(key)
        elif record["dir"] == "out" and frame[0] == 3 and key in ended:
            return index
    raise AssertionError("no answer to an Ended event")


def _by_id(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert match, f"no element #{element_id}"
    return unescape(match.group(1)).strip()
