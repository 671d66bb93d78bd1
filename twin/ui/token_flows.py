"""Where a run's EVCH went, from its ledger log (ledger.jsonl): what each Proof-of-Charge minted
to the driver, the operator and as rewards (read by the replay's ledger_log), the sessions paid
in EVCH with their platform fees, and the supply."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ocppj.wire import from_wire_time
from programs import proof_of_charge as poc
from programs.spl.token2022 import TOKEN_2022_PROGRAM_ID
from twin.replay.ledger_log import read_ledger

# Token-2022 TransferFeeExtension (26) / TransferCheckedWithFee (1): u64 amount, u8 decimals,
# u64 fee; accounts: source, mint, destination, authority. The CSMS pays sessions with it.
_TRANSFER_WITH_FEE = bytes([26, 1])
_AMOUNT_DECIMALS_FEE = struct.Struct("<QBQ")
_TOKEN_2022 = str(TOKEN_2022_PROGRAM_ID)


@dataclass(frozen=True)
class TokenFlows:
    # One row per recorded Proof-of-Charge: t (UTC), session_id (the CSMS's; None if no session
    # of the run has its hash), driver_raw, operator_raw, reward_raw
    mints: pd.DataFrame
    # One row per EVCH transfer with fee (a session paid in EVCH): t (UTC), gross_raw, fee_raw
    payments: pd.DataFrame
    # EVCH supply after each change: t (UTC), supply_raw
    supply: pd.DataFrame


def read_token_flows(path: Path, addresses: dict, session_ids: Iterable[int]) -> TokenFlows:
    """`addresses`: the manifest's "ledger" (program and mint addresses)."""
    log = read_ledger(path, addresses["proof_of_charge_program"], addresses["evch_mint"])
    by_hash = {poc.session_id_hash(int(session_id)): int(session_id) for session_id in session_ids}
    mints = [
        (
            charge.at,
            by_hash.get(session_hash),
            charge.minted.driver_raw,
            charge.minted.operator_raw,
            charge.minted.reward_raw,
        )
        for session_hash, charges in log.charges.items()
        for charge in charges
        if charge.minted is not None
    ]
    return TokenFlows(
        mints=pd.DataFrame(
            mints, columns=["t", "session_id", "driver_raw", "operator_raw", "reward_raw"]
        ).sort_values("t", ignore_index=True),
        payments=pd.DataFrame(
            _payments(path, addresses["evch_mint"]), columns=["t", "gross_raw", "fee_raw"]
        ),
        supply=pd.DataFrame(log.supply, columns=["t", "supply_raw"]),
    )


def _payments(path: Path, evch_mint: str) -> list[tuple]:
    """The successful EVCH transfers with fee in `path`, in the order they were sent."""
    found = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            tx = json.loads(line)
            if not tx["ok"]:
                continue
            for ix in tx["instructions"]:
                data = base64.b64decode(ix["data"])
                if (
                    ix["program"] == _TOKEN_2022
                    and data[:2] == _TRANSFER_WITH_FEE
                    and len(ix["accounts"]) > 1
                    and ix["accounts"][1] == evch_mint
                ):
                    gross_raw, _, fee_raw = _AMOUNT_DECIMALS_FEE.unpack_from(data, 2)
                    found.append((from_wire_time(tx["t"]), gross_raw, fee_raw))
    return found
