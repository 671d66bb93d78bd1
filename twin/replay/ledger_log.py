"""What the ledger did, from the run's transaction log (ledger.jsonl): each Proof-of-Charge the
program recorded, under the rates in force then, with what it minted (its return data), the
EVCH supply after each mint or burn, and the sessions paid in EVCH with their platform fees."""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ocppj.wire import from_wire_time
from programs.proof_of_charge import MintAmounts, Rates
from programs.proof_of_charge.client import ChargeRecord, Tag
from programs.spl.token2022 import TOKEN_2022_PROGRAM_ID

_TOKEN_2022 = str(TOKEN_2022_PROGRAM_ID)
# Token-2022 instructions on the EVCH mint (its account at index 1 in each): Burn (8) and
# BurnChecked (15) destroy the u64 amount after the tag; TransferFeeExtension (26) /
# TransferCheckedWithFee (1), how the CSMS pays a session, sends u64 amount, u8 decimals, u64 fee.
_BURNS = (bytes([8]), bytes([15]))
_TRANSFER_WITH_FEE = bytes([26, 1])
_AMOUNT_DECIMALS_FEE = struct.Struct("<QBQ")


@dataclass(frozen=True)
class RecordedCharge:
    at: datetime
    signature: str
    record: ChargeRecord
    rates: Rates  # in force when it was recorded
    minted: MintAmounts | None  # the program's return data; None if the log lacks it


@dataclass(frozen=True)
class Payment:
    """A session paid in EVCH: a transfer with fee, the fee withheld on the recipient's account."""

    at: datetime
    gross_raw: int  # what the payer sent, the fee included
    fee_raw: int  # the platform fee


@dataclass(frozen=True)
class LedgerLog:
    charges: dict[bytes, list[RecordedCharge]]  # session hash -> recorded charges (should be 1)
    supply: list[tuple[datetime, int]]  # EVCH supply (raw) after each change
    payments: list[Payment]  # in the order they were sent
    transactions: int


def read_ledger(path: Path, proof_of_charge: str, evch_mint: str) -> LedgerLog:
    """The successful transactions of `path` that touched the Proof-of-Charge program, the
    EVCH supply or paid in EVCH, in the order they were sent."""
    charges: dict[bytes, list[RecordedCharge]] = {}
    supply: list[tuple[datetime, int]] = []
    payments: list[Payment] = []
    rates: Rates | None = None
    total = transactions = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            transactions += 1
            tx = json.loads(line)
            if not tx["ok"]:
                continue
            at = from_wire_time(tx["t"])
            returned = _returned(tx["logs"], proof_of_charge)
            for ix in tx["instructions"]:
                data = base64.b64decode(ix["data"])
                if ix["program"] == proof_of_charge and data:
                    if data[0] in (Tag.INITIALIZE, Tag.UPDATE_RATES):
                        rates = Rates.decode(data[1:])
                    elif data[0] == Tag.RECORD_CHARGE and rates is not None:
                        record = ChargeRecord.decode(data[1:])
                        minted = returned.pop(0) if returned else None
                        recorded = RecordedCharge(at, tx["signature"], record, rates, minted)
                        charges.setdefault(record.session_id, []).append(recorded)
                        if minted is not None:
                            total += minted.total_raw
                            supply.append((at, total))
                elif ix["program"] == _TOKEN_2022 and ix["accounts"][1:2] == [evch_mint]:
                    if data[:1] in _BURNS:
                        total -= struct.unpack_from("<Q", data, 1)[0]
                        supply.append((at, total))
                    elif data[:2] == _TRANSFER_WITH_FEE:
                        gross_raw, _, fee_raw = _AMOUNT_DECIMALS_FEE.unpack_from(data, 2)
                        payments.append(Payment(at, gross_raw, fee_raw))
    return LedgerLog(charges, supply, payments, transactions)


def _returned(logs: list[str], program: str) -> list[MintAmounts]:
    """RecordCharge's return data, in instruction order ("Program return: <id> <base64>")."""
    prefix = f"Program return: {program} "
    return [
        MintAmounts.from_return_data(base64.b64decode(line[len(prefix) :]))
        for line in logs
        if line.startswith(prefix)
    ]
