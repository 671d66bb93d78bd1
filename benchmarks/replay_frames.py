"""`evch replay` on a million OCPP frames: frames/s beside parsing the file, and the OCMF
verification beside pyocmf's.

    python benchmarks/replay_frames.py [--frames N] [--chargers C] [--repeat R] [--out DIR]
                                       [--seed S] [--records M] [--profile] [--output FILE]

1. **A synthetic run directory** (a temporary folder, or ``--out``: reused when it holds a run
   generated with the same arguments) whose ``ocpp_frames.jsonl`` has at least ``--frames``
   (1,000,000) records, shaped exactly as ``twin/recorder.py`` writes them (one
   ``json.dumps({"t", "charger_id", "dir", "frame"})`` a line, the frame being the OCPP-J text
   as the ``ocpp`` library serialises it: compact separators, camelCase keys). A fleet of
   ``--chargers`` (200) emulated chargers, half OCPP 1.6J (``ac11``: one connector, 11 kW) and
   half 2.0.1 (``ac22``: two EVSEs, 22 kW; ``dc50``: one EVSE, 50 kW), boots, then charges
   sessions back to back on every EVSE, in virtual time, as the twin's chargers do in
   ``scenarios/quickstart.toml``: StatusNotification, Authorize, StartTransaction (its
   CALLRESULT names the transactionId) then MeterValues Transaction.Begin with the SignedData
   value, or TransactionEvent Started with its ``signedMeterValue``; a TxProfile and the price
   from the CSMS; a periodic reading every 5 min (1.6 MeterValues, 2.0.1 TransactionEvent
   Updated, Sample.Periodic energy and power: the bulk of the frames, as in real runs), the
   running cost every 15 min; StopTransaction with its Transaction.End transactionData, or
   TransactionEvent Ended answered with its totalCost; the 1.6 FinalCost; hourly Heartbeats.
   Every call has its CALLRESULT. The signed readings are real OCMF records signed by each
   meter's key (``ocmf.MeterKey.derive(seed, serial)``, ``chargers_sim.signed_meter``), and
   about 1 % of the sessions are tampered (``signed_meter.altered``: the stop reading changed
   after signing, as the ``tampered_meter`` scenario's charger does).
   There is no ``csms.sqlite`` nor ``ledger.jsonl``: the replay verifies every session against
   the public key its frames carry, which is what `evch replay` does with frames alone.
2. **Measured**, each the median of ``--repeat`` (3) runs on the same file (after one read to
   warm the page cache), wall clock:

   - **baseline A**: read the file and ``json.loads`` every record and every frame: the floor
     any replay of these frames pays;
   - **read_frames**: ``twin.replay.frames.read_frames`` alone (the transactions rebuilt, no
     verification);
   - **replay**: ``twin.replay.replay(run_dir)`` end to end, frames/s and sessions/s;
   - **baseline B**: pyocmf (a third-party OCMF verifier) parsing and verifying every signed
     begin and end record of the run (``OCMF.from_string(...).verify_signature(key)``), beside
     ours (``ocmf.parse_record`` + ``ocmf.verify_record``) on the same records, records/s.

   Then it checks that the replay found every session and that exactly the tampered ones are
   unverified (for an altered signature), and that both verifiers refuse exactly their stop
   records. ``--profile`` also runs one replay under cProfile and prints where its time goes.
   ``--output FILE`` writes the figures, the checks and the machine as JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import heapq
import io
import itertools
import json
import pstats
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
from machine import machine_info, progress_bar, versions
from ocpp.charge_point import snake_to_camel_case
from pyocmf.core.ocmf import OCMF
from pyocmf.exceptions import PyOCMFError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from central_system.domain.model import Verification
from chargers_sim import ChargerConfig
from chargers_sim.signed_meter import END_REASONS, MeterSigner, altered
from ocmf import (
    OcmfError,
    ReadingReason,
    SignedMeterValue,
    parse_record,
    unwrap_signed,
    verify_record,
)
from ocppj.wire import to_wire_time
from twin.recorder import RECORDED_PACKAGES
from twin.replay import Audit, replay
from twin.replay.frames import read_frames

SCENARIO = "replay_frames_benchmark"
START = datetime(2025, 1, 6, tzinfo=UTC)
FRAMES_FILE = "ocpp_frames.jsonl"
METER_INTERVAL_S = 300  # a periodic reading every 5 min, as the quickstart scenario's chargers
COST_EVERY = 3  # the CSMS's running cost every 3rd reading (15 min)
HEARTBEAT_S = 3600  # the BootNotification's interval
PERIODIC = (12, 48)  # readings per session: 1 to 4 hours of charging
GAP_S = (120, 3600)  # an EVSE's idle time between two sessions
DRIVERS = 500
TAMPER_SHARE = 0.01
TAMPER_WH = 250  # what a tampered stop reading claims on top of the signed register
PRICE_PER_WH = 30  # IRR (30,000 IRR/kWh, the quickstart site's price)
COST_VENDOR_ID = "org.openchargealliance.costmsg"
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
STOP_REASONS = ("EVDisconnected", "EVDisconnected", "Local", "Remote")
TRIGGERS = {"EVDisconnected": "EVCommunicationLost", "Remote": "RemoteStop"}  # 2.0.1 Ended
ACCEPTED = {"status": "Accepted"}
# kind -> (protocol, EVSEs, power W, current, model); chargers are named "bench-{kind}-NNN".
KINDS = {
    "ac11": ("1.6", 1, 11_000, "AC", "EmulatedAC"),
    "ac22": ("2.0.1", 2, 22_000, "AC", "EmulatedAC"),
    "dc50": ("2.0.1", 1, 50_000, "DC", "EmulatedDC"),
}
DC_SHARE = 0.3  # of the 2.0.1 chargers

console = Console(width=None if sys.stdout.isatty() else 150)


# -- the synthetic run ----------------------------------------------------------------------
Exchange = tuple[int, str, str, dict, dict]  # (unix s, "in"|"out", action, payload, answer)


@dataclass
class Charger:
    index: int
    id: str
    kind: str

    @property
    def protocol(self) -> str:
        return KINDS[self.kind][0]


class Budget:
    """When the file has its frames, no EVSE starts another session (those under way end)."""

    def __init__(self) -> None:
        self.stop = False
        self.sessions = 0
        self.tampered: list[tuple[str, str]] = []  # (charger, transaction ref)


@lru_cache(maxsize=1 << 16)
def wire(t: int) -> str:
    return to_wire_time(datetime.fromtimestamp(t, UTC))


def fleet(chargers: int, v16_share: float) -> list[Charger]:
    n16 = round(chargers * v16_share)
    n_dc = round((chargers - n16) * DC_SHARE)
    kinds = ["ac11"] * n16 + ["ac22"] * (chargers - n16 - n_dc) + ["dc50"] * n_dc
    numbers: dict[str, itertools.count] = {kind: itertools.count(1) for kind in KINDS}
    return [
        Charger(i, f"bench-{kind}-{next(numbers[kind]):03d}", kind) for i, kind in enumerate(kinds)
    ]


def signer_of(charger: Charger, evse_id: int, seed: str) -> MeterSigner:
    """The meter as the emulated charger builds it: its serial names the key."""
    _, _, _, current, model = KINDS[charger.kind]
    config = ChargerConfig(charger.id, "", model=model, current=current, meter_key_seed=seed)
    return MeterSigner.for_evse(config, evse_id)


def v201_signed(signed: SignedMeterValue) -> dict:
    """SignedMeterValueType as the `ocpp` library puts it on the wire."""
    return snake_to_camel_case(signed.to_v201())


def v16_sampled(context: str, register_wh: int, signed: SignedMeterValue | None) -> list[dict]:
    values = [{"value": str(register_wh), "context": context, "measurand": ENERGY, "unit": "Wh"}]
    if signed is not None:
        values.append(
            {
                "value": signed.to_v16(),
                "context": context,
                "format": "SignedData",
                "measurand": ENERGY,
                "unit": "Wh",
            }
        )
    return values


def v201_energy(context: str, register_wh: int, signed: SignedMeterValue | None) -> dict:
    energy: dict[str, Any] = {
        "value": register_wh,
        "context": context,
        "measurand": ENERGY,
        "unitOfMeasure": {"unit": "Wh"},
    }
    if signed is not None:
        energy["signedMeterValue"] = v201_signed(signed)
    return energy


@dataclass
class Session:
    """One session's draws and its meter, shared by both protocols' frames."""

    charger: Charger
    evse_id: int
    signer: MeterSigner
    driver: str
    start_t: int
    start_wh: int
    power_w: int
    readings: list[tuple[int, int]]  # (unix s, register Wh) of each periodic reading
    stop_t: int
    stop_wh: int  # the meter's register at the stop
    reason: str
    tamper: bool

    def begin(self) -> SignedMeterValue:
        return self.signer.sign(
            reason=ReadingReason.BEGIN,
            register_wh=self.start_wh,
            at=datetime.fromtimestamp(self.start_t, UTC),
            id_token=self.driver,
            charge_point=f"{self.charger.id} {self.evse_id}",
        )

    def end(self) -> tuple[SignedMeterValue, int]:
        """The signed stop reading as sent, and the register the charger reports."""
        signed = self.signer.sign(
            reason=END_REASONS.get(self.reason, ReadingReason.END),
            register_wh=self.stop_wh,
            at=datetime.fromtimestamp(self.stop_t, UTC),
            id_token=self.driver,
            charge_point=f"{self.charger.id} {self.evse_id}",
        )
        if not self.tamper:
            return signed, self.stop_wh
        claimed = self.stop_wh + TAMPER_WH
        return altered(signed, self.stop_wh, claimed), claimed

    def cost(self, register_wh: int) -> float:
        return float((register_wh - self.start_wh) * PRICE_PER_WH)


def evse_sessions(
    charger: Charger, evse_id: int, seed: int, budget: Budget
) -> Iterator[tuple[Session, int]]:
    """An EVSE's sessions back to back, each with its number on the EVSE, until the budget
    says stop."""
    rng = np.random.default_rng([seed, charger.index, evse_id])
    signer = signer_of(charger, evse_id, str(seed))
    power_w = KINDS[charger.kind][2]
    t = int(START.timestamp()) + int(rng.integers(*GAP_S))
    register_wh = 0
    for number in itertools.count(1):
        if budget.stop:
            return
        start_t, start_wh = t, register_wh
        first = (start_t // METER_INTERVAL_S + 1) * METER_INTERVAL_S
        times = [first + k * METER_INTERVAL_S for k in range(int(rng.integers(*PERIODIC)))]
        readings = [(at, start_wh + power_w * (at - start_t) // 3600) for at in times]
        stop_t = times[-1] + int(rng.integers(1, METER_INTERVAL_S))
        register_wh = start_wh + power_w * (stop_t - start_t) // 3600
        session = Session(
            charger,
            evse_id,
            signer,
            f"DRIVER-{int(rng.integers(1, DRIVERS + 1))}",
            start_t,
            start_wh,
            power_w,
            readings,
            stop_t,
            register_wh,
            STOP_REASONS[int(rng.integers(len(STOP_REASONS)))],
            bool(rng.random() < TAMPER_SHARE),
        )
        budget.sessions += 1
        yield session, number
        t = stop_t + int(rng.integers(*GAP_S))


def v16_exchanges(
    charger: Charger, evse_id: int, seed: int, budget: Budget, transaction_ids: Iterator[int]
) -> Iterator[Exchange]:
    """What a 1.6 connector and the CSMS say to each other over its sessions."""
    for s, _ in evse_sessions(charger, evse_id, seed, budget):
        t, w, tx = s.start_t, wire(s.start_t), next(transaction_ids)
        yield t, "in", "StatusNotification", _status_16(evse_id, "Preparing", w), {}
        yield t, "in", "Authorize", {"idTag": s.driver}, {"idTagInfo": {"status": "Accepted"}}
        yield t, "in", "StatusNotification", _status_16(evse_id, "Charging", w), {}
        start = {
            "connectorId": evse_id,
            "idTag": s.driver,
            "meterStart": s.start_wh,
            "timestamp": w,
        }
        answer = {"transactionId": tx, "idTagInfo": {"status": "Accepted"}}
        yield t, "in", "StartTransaction", start, answer
        profile = {
            "connectorId": evse_id,
            "csChargingProfiles": {
                "chargingProfileId": tx,
                "transactionId": tx,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "startSchedule": w,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": float(s.power_w)}],
                },
            },
        }
        yield t, "out", "SetChargingProfile", profile, ACCEPTED
        sampled = v16_sampled("Transaction.Begin", s.start_wh, s.begin())
        begin = [{"timestamp": w, "sampledValue": sampled}]
        yield t, "in", "MeterValues", _meter_values(evse_id, begin, tx), {}
        price = {"idToken": s.driver, "priceText": f"{PRICE_PER_WH * 1000:.2f} IRR/kWh"}
        yield t, "out", "DataTransfer", _cost_message("SetUserPrice", price), ACCEPTED
        for k, (at, register_wh) in enumerate(s.readings):
            if k and k % COST_EVERY == 0:
                cost = s.cost(s.readings[k - 1][1])
                running = {
                    "transactionId": tx,
                    "timestamp": wire(at),
                    "meterValue": s.readings[k - 1][1],
                    "cost": cost,
                    "state": "Charging",
                    "chargingPrice": {
                        "kWhPrice": PRICE_PER_WH * 1000.0,
                        "hourPrice": 0,
                        "flatFee": 0,
                    },
                    "priceText": f"So far: {cost:.2f} IRR",
                }
                yield at, "out", "DataTransfer", _cost_message("RunningCost", running), ACCEPTED
            sampled = v16_sampled("Sample.Periodic", register_wh, None)
            power = f"{float(s.power_w):.1f}"
            sampled.append(
                {"value": power, "context": "Sample.Periodic", "measurand": POWER, "unit": "W"}
            )
            periodic = [{"timestamp": wire(at), "sampledValue": sampled}]
            yield at, "in", "MeterValues", _meter_values(evse_id, periodic, tx), {}
        t, w = s.stop_t, wire(s.stop_t)
        signed, stop_wh = s.end()
        if s.tamper:
            budget.tampered.append((charger.id, str(tx)))
        stop = {
            "meterStop": stop_wh,
            "timestamp": w,
            "transactionId": tx,
            "reason": s.reason,
            "idTag": s.driver,
            "transactionData": [
                {"timestamp": w, "sampledValue": v16_sampled("Transaction.End", stop_wh, signed)}
            ],
        }
        yield t, "in", "StopTransaction", stop, {"idTagInfo": {"status": "Accepted"}}
        cost = s.cost(stop_wh)
        final = {"transactionId": tx, "cost": cost, "priceText": f"Total: {cost:.2f} IRR"}
        yield t, "out", "DataTransfer", _cost_message("FinalCost", final), ACCEPTED
        yield t, "in", "StatusNotification", _status_16(evse_id, "Available", w), {}


def _status_16(connector_id: int, status: str, w: str) -> dict:
    return {"connectorId": connector_id, "errorCode": "NoError", "status": status, "timestamp": w}


def _meter_values(connector_id: int, meter_value: list[dict], tx: int) -> dict:
    return {"connectorId": connector_id, "meterValue": meter_value, "transactionId": tx}


def _cost_message(message_id: str, data: dict) -> dict:
    """The OCA California Pricing messages: their data is JSON text (default separators)."""
    return {"vendorId": COST_VENDOR_ID, "messageId": message_id, "data": json.dumps(data)}


def v201_exchanges(charger: Charger, evse_id: int, seed: int, budget: Budget) -> Iterator[Exchange]:
    """What a 2.0.1 EVSE and the CSMS say to each other over its sessions."""
    evse = {"id": evse_id, "connectorId": 1}
    prefix = f"{int(START.timestamp()):08x}"
    for s, number in evse_sessions(charger, evse_id, seed, budget):
        ref = f"{charger.id[:20]}-{prefix}-{evse_id}{number:05d}"[-36:]
        t, w = s.start_t, wire(s.start_t)
        token = {"idToken": s.driver, "type": "ISO14443"}
        yield t, "in", "StatusNotification", _status_201(w, "Occupied", evse_id), {}
        yield t, "in", "Authorize", {"idToken": token}, {"idTokenInfo": {"status": "Accepted"}}
        started = {
            "eventType": "Started",
            "timestamp": w,
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": ref, "chargingState": "Charging"},
            "meterValue": [
                {
                    "timestamp": w,
                    "sampledValue": [v201_energy("Transaction.Begin", s.start_wh, s.begin())],
                }
            ],
            "evse": evse,
            "idToken": token,
        }
        yield t, "in", "TransactionEvent", started, {"idTokenInfo": {"status": "Accepted"}}
        profile = {
            "evseId": evse_id,
            "chargingProfile": {
                "id": number,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Absolute",
                "transactionId": ref,
                "chargingSchedule": [
                    {
                        "id": number,
                        "startSchedule": w,
                        "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": float(s.power_w)}],
                    }
                ],
            },
        }
        yield t, "out", "SetChargingProfile", profile, ACCEPTED
        text = {"format": "UTF8", "content": f"{PRICE_PER_WH * 1000:.2f} IRR/kWh"}
        message = {"id": number, "priority": "InFront", "transactionId": ref, "message": text}
        yield t, "out", "SetDisplayMessage", {"message": message}, ACCEPTED
        for k, (at, register_wh) in enumerate(s.readings):
            if k and k % COST_EVERY == 0:
                cost = {"totalCost": s.cost(s.readings[k - 1][1]), "transactionId": ref}
                yield at, "out", "CostUpdated", cost, {}
            power = {
                "value": float(s.power_w),
                "context": "Sample.Periodic",
                "measurand": POWER,
                "unitOfMeasure": {"unit": "W"},
            }
            energy = v201_energy("Sample.Periodic", register_wh, None)
            updated = {
                "eventType": "Updated",
                "timestamp": wire(at),
                "triggerReason": "MeterValuePeriodic",
                "seqNo": k + 1,
                "transactionInfo": {"transactionId": ref},
                "meterValue": [{"timestamp": wire(at), "sampledValue": [energy, power]}],
                "evse": evse,
            }
            yield at, "in", "TransactionEvent", updated, {}
        t, w = s.stop_t, wire(s.stop_t)
        signed, stop_wh = s.end()
        if s.tamper:
            budget.tampered.append((charger.id, ref))
        ended = {
            "eventType": "Ended",
            "timestamp": w,
            "triggerReason": TRIGGERS.get(s.reason, "StopAuthorized"),
            "seqNo": len(s.readings) + 1,
            "transactionInfo": {
                "transactionId": ref,
                "chargingState": "EVConnected",
                "stoppedReason": s.reason,
            },
            "meterValue": [
                {"timestamp": w, "sampledValue": [v201_energy("Transaction.End", stop_wh, signed)]}
            ],
            "evse": evse,
        }
        yield t, "in", "TransactionEvent", ended, {"totalCost": s.cost(stop_wh)}
        yield t, "in", "StatusNotification", _status_201(w, "Available", evse_id), {}


def _status_201(w: str, status: str, evse_id: int) -> dict:
    return {"timestamp": w, "connectorStatus": status, "evseId": evse_id, "connectorId": 1}


def charger_records(
    charger: Charger, seed: int, budget: Budget, transaction_ids: Iterator[int]
) -> Iterator[tuple[int, str]]:
    """(unix s, record line) of everything a charger and the CSMS exchanged, in order: the
    boot, then its EVSEs' sessions merged in time with its hourly heartbeats."""
    protocol, evses, *_ = KINDS[charger.kind]
    calls, csms_calls = itertools.count(1), itertools.count(1)
    t0 = int(START.timestamp())
    boot_answer = {"currentTime": wire(t0), "interval": HEARTBEAT_S, "status": "Accepted"}
    model = KINDS[charger.kind][4]
    if protocol == "1.6":
        boot = {"chargePointModel": model, "chargePointVendor": "EVCH", "firmwareVersion": "1.0.0"}
        streams = [v16_exchanges(charger, 1, seed, budget, transaction_ids)]
        statuses = [_status_16(1, "Available", wire(t0))]
    else:
        station = {"vendorName": "EVCH", "model": model, "firmwareVersion": "1.0.0"}
        boot = {"chargingStation": station, "reason": "PowerUp"}
        streams = [v201_exchanges(charger, e, seed, budget) for e in range(1, evses + 1)]
        statuses = [_status_201(wire(t0), "Available", e) for e in range(1, evses + 1)]
    boots = [(t0, "in", "BootNotification", boot, boot_answer)]
    boots += [(t0, "in", "StatusNotification", status, {}) for status in statuses]
    heartbeat_t = t0 + HEARTBEAT_S
    for exchange in itertools.chain(boots, heapq.merge(*streams, key=itemgetter(0))):
        t = exchange[0]
        while heartbeat_t <= t:
            heartbeat = (heartbeat_t, "in", "Heartbeat", {}, {"currentTime": wire(heartbeat_t)})
            yield from _records(charger.id, heartbeat, calls, csms_calls)
            heartbeat_t += HEARTBEAT_S
        yield from _records(charger.id, exchange, calls, csms_calls)


def _records(
    charger_id: str, exchange: Exchange, calls: Iterator[int], csms_calls: Iterator[int]
) -> Iterator[tuple[int, str]]:
    """The call and its CALLRESULT, each as the recorder writes it."""
    t, direction, action, payload, answer = exchange
    message_id = str(next(calls if direction == "in" else csms_calls))
    at = wire(t)
    call = json.dumps([2, message_id, action, payload], separators=(",", ":"))
    result = json.dumps([3, message_id, answer], separators=(",", ":"))
    back = "out" if direction == "in" else "in"
    record = {"t": at, "charger_id": charger_id, "dir": direction, "frame": call}
    yield t, json.dumps(record) + "\n"
    record = {"t": at, "charger_id": charger_id, "dir": back, "frame": result}
    yield t, json.dumps(record) + "\n"


def generate(run_dir: Path, args: argparse.Namespace, params: dict) -> dict:
    """Write the run directory; its manifest says what the benchmark expects of it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    chargers = fleet(args.chargers, args.v16_share)
    budget = Budget()
    transaction_ids = itertools.count(1)
    streams = [charger_records(c, args.seed, budget, transaction_ids) for c in chargers]
    frames, last_t = 0, 0
    started = time.perf_counter()
    with (
        open(run_dir / FRAMES_FILE, "w", encoding="utf-8") as out,
        Progress(
            TextColumn("[bold]generating {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("frames, {task.fields[sessions]:,} sessions"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(FRAMES_FILE, total=args.frames, sessions=0)
        chunk: list[str] = []
        for t, line in heapq.merge(*streams, key=itemgetter(0)):
            chunk.append(line)
            last_t = t
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                frames += len(chunk)
                chunk.clear()
                budget.stop = frames >= args.frames
                progress.update(task, completed=min(frames, args.frames), sessions=budget.sessions)
        out.write("".join(chunk))
        frames += len(chunk)
    generated_s = time.perf_counter() - started
    by_protocol = {p: sum(1 for c in chargers if c.protocol == p) for p in ("1.6", "2.0.1")}
    manifest = {
        "python": sys.version.split()[0],
        "packages": versions(*RECORDED_PACKAGES),
        "scenario": SCENARIO,
        "seed": args.seed,
        "start": START.isoformat(),
        "end": datetime.fromtimestamp(last_t, UTC).isoformat(),
        "frames": frames,
        "sessions": budget.sessions,
        "benchmark": {
            "params": params,
            "chargers": by_protocol,
            "generated_s": round(generated_s, 1),
            "tampered": sorted(budget.tampered),
        },
    }
    text = json.dumps(manifest, indent=2)
    (run_dir / "manifest.json").write_text(text + "\n", encoding="utf-8")
    return manifest


def run_directory(args: argparse.Namespace, folder: Path) -> tuple[Path, dict, bool]:
    """(run directory, its manifest, whether it was reused)."""
    params = {
        "frames": args.frames,
        "chargers": args.chargers,
        "v16_share": args.v16_share,
        "seed": args.seed,
    }
    run_dir = Path(args.out) if args.out else folder / "run"
    manifest_path = run_dir / "manifest.json"
    if manifest_path.is_file() and (run_dir / FRAMES_FILE).is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("benchmark", {}).get("params") == params:
            return run_dir, manifest, True
        if manifest.get("scenario") != SCENARIO:
            raise SystemExit(f"{run_dir} holds another run: give --out a folder of its own")
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise SystemExit(f"{run_dir} is not empty and not this benchmark's run directory")
    return run_dir, generate(run_dir, args, params), False


# -- measuring ------------------------------------------------------------------------------
def parse_everything(path: Path) -> int:
    """Baseline A: every record and every frame through json.loads, nothing else."""
    frames = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            json.loads(json.loads(line)["frame"])
            frames += 1
    return frames


@dataclass(frozen=True)
class SignedRecord:
    text: str  # the OCMF record
    key_der: bytes  # the key its frame carried
    key_hex: str
    stop: bool
    tampered: bool  # the session's stop was altered after signing


def signed_records(run_dir: Path, tampered: set[tuple[str, str]]) -> list[SignedRecord]:
    """Every begin and end record of the run's finished sessions, as the frames carry them."""
    found = []
    for tx in read_frames(run_dir / FRAMES_FILE).transactions:
        if tx.stopped_at is None or tx.transaction_ref is None:
            continue
        for signed, stop in ((tx.signed_begin, False), (tx.signed_end, True)):
            carried = unwrap_signed(signed)
            key = carried.public_key_der or b""
            altered_ = (tx.charger_id, tx.transaction_ref) in tampered
            found.append(SignedRecord(carried.record, key, key.hex(), stop, altered_))
    return found


def ours(records: list[SignedRecord]) -> list[bool]:
    verdicts = []
    for record in records:
        try:
            verdicts.append(verify_record(parse_record(record.text), record.key_der))
        except OcmfError:
            verdicts.append(False)
    return verdicts


def pyocmf(records: list[SignedRecord]) -> list[bool]:
    verdicts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lenient, as the tests use it
        for record in records:
            try:
                verdicts.append(OCMF.from_string(record.text).verify_signature(record.key_hex))
            except PyOCMFError:
                verdicts.append(False)
    return verdicts


def median_run(
    fn: Callable[[], Any], repeat: int, progress: Progress, label: str
) -> tuple[float, list[float], Any]:
    """(median wall s, every wall s, the last result)."""
    task = progress.add_task(label, total=repeat)
    walls, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - started)
        progress.advance(task)
    return statistics.median(walls), walls, result


def check_audit(audit: Audit, manifest: dict) -> list[str]:
    """What is wrong with the replay's findings (empty: all as generated)."""
    problems = []
    if audit.frames != manifest["frames"]:
        problems.append(f"replay counted {audit.frames:,} frames, {manifest['frames']:,} written")
    if len(audit.sessions) != manifest["sessions"]:
        problems.append(
            f"replay found {len(audit.sessions):,} sessions, {manifest['sessions']:,} generated"
        )
    expected = {tuple(t) for t in manifest["benchmark"]["tampered"]}
    unverified = {(s.charger_id, s.transaction_ref) for s in audit.exceptions}
    if unverified != expected:
        problems.append(
            f"unverified sessions differ from the tampered ones: {len(unverified - expected)} "
            f"unverified not tampered, {len(expected - unverified)} tampered not unverified"
        )
    wrong = [
        s
        for s in audit.exceptions
        if not (s.reason or "").startswith("BAD_SIGNATURE: the signature of the stop reading")
    ]
    if wrong:
        problems.append(f"{len(wrong)} unverified for another reason, e.g. {wrong[0].reason}")
    if audit.differences:
        problems.append(f"{len(audit.differences)} differences, e.g. {audit.differences[0]}")
    return problems


def check_verdicts(name: str, verdicts: list[bool], records: list[SignedRecord]) -> list[str]:
    refused = [r for r, ok in zip(records, verdicts, strict=True) if not ok]
    expected = [r for r in records if r.tampered and r.stop]
    if refused != expected:
        return [f"{name} refused {len(refused)} records, {len(expected)} are altered"]
    return []


def profile_replay(run_dir: Path, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    replay(run_dir)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


# -- report ---------------------------------------------------------------------------------
def render(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    table.add_column("path")
    for heading in ("frames", "sessions", "records", "wall s", "runs s", "frames/s"):
        table.add_column(heading, justify="right")
    for heading in ("sessions/s", "records/s", "speed vs baseline"):
        table.add_column(heading, justify="right")

    def number(value, fmt="{:,.0f}") -> str:
        return "-" if value is None else fmt.format(value)

    for row in rows:
        table.add_row(
            row["path"],
            number(row.get("frames")),
            number(row.get("sessions")),
            number(row.get("records")),
            number(row["wall_s"], "{:,.2f}"),
            " ".join(f"{w:.2f}" for w in row["walls_s"]),
            number(row.get("frames_per_s")),
            number(row.get("sessions_per_s")),
            number(row.get("records_per_s")),
            f"{row['ratio']:.2f} x {row['baseline']}" if "ratio" in row else "-",
        )
    return table


def main(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="evch-replay-bench-") as folder:
        run_dir, manifest, reused = run_directory(args, Path(folder))
        frames_path = run_dir / FRAMES_FILE
        size_mb = frames_path.stat().st_size / 2**20
        bench = manifest["benchmark"]
        console.print(
            f"{'Reused' if reused else 'Generated'} {run_dir}: {manifest['frames']:,} frames "
            f"({size_mb:,.0f} MiB), {manifest['sessions']:,} sessions of "
            f"{bench['chargers']['1.6']} OCPP 1.6J and {bench['chargers']['2.0.1']} 2.0.1 "
            f"chargers, {len(bench['tampered'])} tampered"
            + ("" if reused else f", in {bench['generated_s']:.0f} s")
            + ". No csms.sqlite nor ledger.jsonl: the replay verifies every session against the "
            "public key its frames carry."
        )
        tampered = {tuple(t) for t in bench["tampered"]}
        records = signed_records(run_dir, tampered)
        if args.records and args.records < len(records):
            step = len(records) / args.records
            records = [records[int(i * step)] for i in range(args.records)]
        parse_everything(frames_path)  # the page cache, warm for everyone
        with progress_bar(console, "[bold]{task.description}", transient=True) as progress:
            a_s, a_walls, parsed = median_run(
                lambda: parse_everything(frames_path), args.repeat, progress, "baseline A"
            )
            f_s, f_walls, log = median_run(
                lambda: read_frames(frames_path), args.repeat, progress, "read_frames"
            )
            r_s, r_walls, audit = median_run(
                lambda: replay(run_dir), args.repeat, progress, "replay"
            )
            p_s, p_walls, theirs = median_run(
                lambda: pyocmf(records), args.repeat, progress, "pyocmf"
            )
            o_s, o_walls, mine = median_run(lambda: ours(records), args.repeat, progress, "ours")
        frames, sessions = manifest["frames"], len(audit.sessions)
        problems = [] if parsed == frames else [f"baseline A parsed {parsed:,} of {frames:,}"]
        if log.frames != frames:
            problems.append(f"read_frames counted {log.frames:,} frames of {frames:,}")
        problems += check_audit(audit, manifest)
        problems += check_verdicts("pyocmf", theirs, records)
        problems += check_verdicts("ours", mine, records)
        profile = profile_replay(run_dir, args.profile_top) if args.profile else None
    rows = [
        {"path": "A: read + json.loads of every record and frame", "frames": frames},
        {"path": "read_frames: rebuild, no verification", "frames": frames},
        {"path": "replay(run_dir): end to end", "frames": frames, "sessions": sessions},
        {"path": "B: pyocmf from_string + verify_signature", "records": len(records)},
        {"path": "ours: ocmf parse_record + verify_record", "records": len(records)},
    ]
    for row, wall, walls in zip(
        rows, (a_s, f_s, r_s, p_s, o_s), (a_walls, f_walls, r_walls, p_walls, o_walls), strict=True
    ):
        row["wall_s"], row["walls_s"] = wall, walls
        for unit in ("frames", "sessions", "records"):
            if row.get(unit):
                row[f"{unit}_per_s"] = row[unit] / wall
    for row in rows[1:3]:
        row["ratio"], row["baseline"] = a_s / row["wall_s"], "A"
    rows[4]["ratio"], rows[4]["baseline"] = p_s / o_s, "B"
    unverified = len(audit.exceptions)
    title = (
        f"evch replay of {frames:,} OCPP frames ({sessions:,} sessions, "
        f"{len(records):,} signed records), median of {args.repeat}"
    )
    console.print(render(rows, title))
    verify_share = (r_s - f_s) / r_s
    per_record_us = o_s / len(records) * 1e6
    lines = [
        f"Replay: {frames / r_s:,.0f} frames/s, {sessions / r_s:,.0f} sessions/s; "
        f"{unverified} unverified ({unverified / sessions:.2%}), "
        f"{sum(s.verification is Verification.VERIFIED for s in audit.sessions):,} verified.",
        f"Share of the replay outside read_frames (verifying and auditing the sessions): "
        f"{verify_share:.0%} ({r_s - f_s:.2f} of {r_s:.2f} s, "
        f"{(r_s - f_s) / sessions * 1e6:,.0f} µs a session); ours alone costs "
        f"{per_record_us:,.0f} µs a record, so 2 records a session would be "
        f"{2 * per_record_us * sessions / 1e6 / r_s:.0%} of the replay.",
        f"read_frames is {f_s / a_s:.2f} x baseline A's time: it parses only the records that "
        "matter (transaction calls and the answers they wait for), judged from their text.",
        f"File: {size_mb:,.0f} MiB, {size_mb * 2**20 / frames:,.0f} bytes a record.",
    ]
    if problems:
        lines += [f"[red]check failed: {p}[/]" for p in problems]
    else:
        lines.append(
            "[green]Checks passed[/]: every frame counted, every session found, exactly the "
            f"{len(tampered)} tampered sessions unverified (BAD_SIGNATURE on the stop reading), "
            "pyocmf and ours refuse exactly their altered stop records."
        )
    machine = machine_info()
    lines.append(
        f"Machine: {machine['cpu_count']} CPUs, {machine['cpu_model']}, "
        f"{machine['memory_mb']:,} MB, Python {machine['python']}; one process, one core used."
    )
    for line in lines:
        console.print(line)
    if profile:
        console.print(profile, markup=False, highlight=False)
    if args.output:
        report = {
            "benchmark": "replay_frames",
            "date": started.isoformat(timespec="seconds"),
            "machine": machine,
            "versions": versions("evch", "pyocmf", "cryptography", "ocpp"),
            "arguments": vars(args),
            "run": {k: v for k, v in manifest.items() if k != "benchmark"}
            | {"tampered": len(tampered), "file_mib": round(size_mb, 1), "reused": reused},
            "rows": rows,
            "checks": problems,
            "notes": [console.render_str(line).plain for line in lines],
        }
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        console.print(f"results: {out}")
    return 1 if problems else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000, help="at least this many")
    parser.add_argument("--chargers", type=int, default=200)
    parser.add_argument("--v16-share", type=float, default=0.5, help="of the chargers, 1.6J")
    parser.add_argument("--seed", type=int, default=42, help="draws and meter keys")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path (median)")
    parser.add_argument(
        "--out", help="keep the run directory here; reused when generated with these arguments"
    )
    parser.add_argument(
        "--records", type=int, default=0, help="at most this many records for B (0: all)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one replay, print it")
    parser.add_argument("--profile-top", type=int, default=30, help="functions listed")
    parser.add_argument("--output", help="write the figures as JSON here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
