"""Transactions rebuilt from the recorded OCPP frames alone (ocpp_frames.jsonl).

Only what a transaction needs is parsed: its start and stop, the signed readings at both ends,
the final cost the CSMS told the driver and the answers that name transactions. Periodic meter
values, heartbeats and statuses are recognised by their text and skipped, which keeps a replay
of millions of frames fast.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ocppj.wire import from_wire_time

CALL, CALLRESULT = 2, 3
COST_VENDOR_ID = "org.openchargealliance.costmsg"
ENERGY_REGISTER = "Energy.Active.Import.Register"
# Charger -> CSMS calls a transaction is made of; MeterValues only with a transaction reading.
# (As they appear in a record's text: the frame is a JSON string, its quotes escaped.)
_TRANSACTION_CALLS = ('\\"StartTransaction\\"', '\\"StopTransaction\\"', '\\"TransactionEvent\\"')


@dataclass
class FrameTransaction:
    """One transaction as its frames tell it."""

    charger_id: str
    protocol: str  # "1.6" | "2.0.1"
    transaction_ref: str | None = None  # None: a 1.6 start the CSMS never answered
    evse_id: int | None = None
    id_token: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    meter_start_wh: int | None = None
    meter_stop_wh: int | None = None
    signed_begin: str | None = None  # as sent: a 1.6 SignedData value or a 2.0.1 JSON object
    signed_end: str | None = None
    cost: Decimal | None = None  # the final cost the CSMS sent, in major units

    @property
    def energy_wh(self) -> int | None:
        if self.meter_start_wh is None or self.meter_stop_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh


@dataclass(frozen=True)
class FrameLog:
    transactions: list[FrameTransaction]
    frames: int


def read_frames(path: Path) -> FrameLog:
    with open(path, encoding="utf-8") as lines:
        return rebuild(lines)


def rebuild(lines: Iterable[str]) -> FrameLog:
    """The transactions in a stream of recorded frames (one JSON record a line)."""
    builder = _Builder()
    frames = 0
    for frames, line in enumerate(lines, 1):  # noqa: B007 - the count is the last index
        builder.feed(line)
    return FrameLog(builder.finished(), frames)


class _Builder:
    def __init__(self) -> None:
        self._by_ref: dict[tuple[str, str], FrameTransaction] = {}
        self._order: list[FrameTransaction] = []
        # Calls waiting for their answer: (charger, message id) -> (action, transaction), and
        # how many chargers wait on each message id.
        self._pending: dict[tuple[str, str], tuple[str, FrameTransaction]] = {}
        self._waiting: Counter[str] = Counter()

    def feed(self, line: str) -> None:
        if not _interesting(line) or not self._may_answer(line):
            return
        record = json.loads(line)
        frame = json.loads(record["frame"])
        charger = record["charger_id"]
        kind = frame[0]
        if record["dir"] == "in" and kind == CALL:
            self._call_in(charger, frame[1], frame[2], frame[3])
        elif record["dir"] == "out" and kind == CALLRESULT:
            waiting = self._pending.pop((charger, frame[1]), None)
            if waiting is not None:
                self._waiting[frame[1]] -= 1
                self._answered(charger, *waiting, frame[2])
        elif record["dir"] == "out" and kind == CALL and frame[2] == "DataTransfer":
            self._cost_message(charger, frame[3])

    def _may_answer(self, line: str) -> bool:
        """An answer matters only to a call we wait for: its id is read from the text, and
        only those are parsed (most answers are to heartbeats and meter values)."""
        start = line.find('"frame": "[3,\\"')
        if start == -1:
            return True  # not an answer
        start += len('"frame": "[3,\\"')
        message_id = line[start : line.find("\\", start)]
        return self._waiting[message_id] > 0

    def finished(self) -> list[FrameTransaction]:
        return self._order

    # -- charger -> CSMS ---------------------------------------------------------------------
    def _call_in(self, charger: str, message_id: str, action: str, payload: dict) -> None:
        if action == "StartTransaction":
            tx = FrameTransaction(
                charger,
                "1.6",
                evse_id=payload.get("connectorId"),
                id_token=payload.get("idTag"),
                started_at=from_wire_time(payload["timestamp"]),
                meter_start_wh=payload.get("meterStart"),
            )
            self._order.append(tx)
            self._wait(charger, message_id, action, tx)
        elif action == "MeterValues" and "transactionId" in payload:
            tx = self._by_ref.get((charger, str(payload["transactionId"])))
            if tx is not None:
                signed = _signed_v16(payload.get("meterValue", ()), "Transaction.Begin")
                tx.signed_begin = signed or tx.signed_begin
        elif action == "StopTransaction":
            tx = self._get(charger, str(payload["transactionId"]), "1.6")
            tx.stopped_at = from_wire_time(payload["timestamp"])
            tx.meter_stop_wh = payload.get("meterStop")
            tx.id_token = tx.id_token or payload.get("idTag")
            tx.signed_end = _signed_v16(payload.get("transactionData", ()), "Transaction.End")
        elif action == "TransactionEvent":
            self._transaction_event(charger, message_id, payload)

    def _transaction_event(self, charger: str, message_id: str, payload: dict) -> None:
        ref = payload["transactionInfo"]["transactionId"]
        tx = self._get(charger, ref, "2.0.1")
        event = payload["eventType"]
        tx.evse_id = tx.evse_id or payload.get("evse", {}).get("id")
        if "idToken" in payload:
            tx.id_token = payload["idToken"].get("idToken")
        for context, register, signed in _readings_v201(payload.get("meterValue", ())):
            if context == "Transaction.Begin":
                tx.meter_start_wh, tx.signed_begin = register, signed or tx.signed_begin
            elif context == "Transaction.End":
                tx.meter_stop_wh, tx.signed_end = register, signed or tx.signed_end
        if event == "Started":
            tx.started_at = from_wire_time(payload["timestamp"])
        elif event == "Ended":
            tx.stopped_at = from_wire_time(payload["timestamp"])
            self._wait(charger, message_id, "TransactionEvent", tx)

    def _wait(self, charger: str, message_id: str, action: str, tx: FrameTransaction) -> None:
        self._pending[(charger, message_id)] = (action, tx)
        self._waiting[message_id] += 1

    # -- CSMS -> charger ---------------------------------------------------------------------
    def _answered(self, charger: str, action: str, tx: FrameTransaction, answer: dict) -> None:
        if action == "StartTransaction":
            tx.transaction_ref = str(answer["transactionId"])
            self._by_ref[(charger, tx.transaction_ref)] = tx
        elif "totalCost" in answer:  # 2.0.1: the final cost answers the Ended event
            tx.cost = Decimal(str(answer["totalCost"]))

    def _cost_message(self, charger: str, payload: dict) -> None:
        """1.6: the OCA California Pricing FinalCost carries the session's cost."""
        if payload.get("vendorId") != COST_VENDOR_ID or payload.get("messageId") != "FinalCost":
            return
        fields = json.loads(payload["data"], parse_float=Decimal)
        tx = self._by_ref.get((charger, str(fields["transactionId"])))
        if tx is not None:
            tx.cost = Decimal(str(fields["cost"]))

    def _get(self, charger: str, ref: str, protocol: str) -> FrameTransaction:
        tx = self._by_ref.get((charger, ref))
        if tx is None:  # a stop whose start is not in the log (2.0.1 may report only that)
            tx = FrameTransaction(charger, protocol, transaction_ref=ref)
            self._by_ref[(charger, ref)] = tx
            self._order.append(tx)
        return tx


def _interesting(line: str) -> bool:
    """Whether a record may matter, judged from its text before any parsing."""
    if '"dir": "out"' in line:
        # Answers (to calls we wait for) and the CSMS's cost messages.
        return '"frame": "[3,' in line or "FinalCost" in line
    if '\\"Updated\\"' in line:  # a periodic 2.0.1 event: only its token or readings matter
        return "idToken" in line or "Transaction.Begin" in line or "Transaction.End" in line
    if any(action in line for action in _TRANSACTION_CALLS):
        return True
    return "Transaction.Begin" in line and '\\"MeterValues\\"' in line


def _signed_v16(meter_values: Iterable[dict], context: str) -> str | None:
    for meter_value in meter_values:
        for sampled in meter_value.get("sampledValue", ()):
            if (
                sampled.get("format") == "SignedData"
                and sampled.get("context") == context
                and sampled.get("measurand", ENERGY_REGISTER) == ENERGY_REGISTER
            ):
                return sampled["value"]
    return None


def _readings_v201(meter_values: Iterable[dict]) -> Iterator[tuple[str, int | None, str | None]]:
    """(context, register Wh, signed value as JSON text) of each energy register sample."""
    for meter_value in meter_values:
        for sampled in meter_value.get("sampledValue", ()):
            if sampled.get("measurand", ENERGY_REGISTER) != ENERGY_REGISTER:
                continue
            unit: dict[str, Any] = sampled.get("unitOfMeasure", {})
            scale = 1000 if unit.get("unit") == "kWh" else 1
            register = round(float(sampled["value"]) * scale * 10 ** unit.get("multiplier", 0))
            signed = sampled.get("signedMeterValue")
            yield (
                sampled.get("context", ""),
                register,
                json.dumps(signed, separators=(",", ":")) if signed else None,
            )
