"""`evch validator`: a local Solana cluster for development and tests, LiteSVM behind the
standard JSON-RPC, so code written for ``solana-test-validator`` or devnet runs unchanged.

The real ``solana-test-validator`` cannot be installed here; this serves the JSON-RPC methods
the project's clients use and behaves like a validator where it matters to them:

- a transaction over 1,232 bytes is refused before anything runs (-32602, as a validator says);
- ``sendTransaction`` simulates first (preflight) and refuses a failing transaction without
  recording it (-32002 with the simulation's error, logs and units), unless ``skipPreflight``;
- a blockhash is valid for 150 slots, an unknown or expired one is refused; a signature already
  processed is refused as ``AlreadyProcessed``;
- every landed transaction gets its own slot, its status (``getSignatureStatuses``) and its
  record (``getTransaction``: logs, compute units, error), and is final at once.

LiteSVM's own checks are relaxed where a validator's are stricter (it accepts over-size
transactions and only its latest blockhash); the checks above are made here, before it runs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from programs.spl.token2022 import parse_mint, parse_token_account

PACKET_DATA_SIZE = 1232  # the most a transaction may take on the wire
BLOCKHASH_VALID_SLOTS = 150
VERSION = "evch-localnet-1"

# JSON-RPC error codes, as a validator uses them.
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
PREFLIGHT_FAILURE = -32002


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


@dataclass
class _Landed:
    """A transaction that landed, as getTransaction and getSignatureStatuses report it."""

    slot: int
    wire: bytes
    err: Any  # None, or the error in the validator's JSON form
    logs: list[str]
    units: int
    fee: int


class LocalValidator:
    """The cluster's state and the JSON-RPC methods over it."""

    def __init__(self, svm: LiteSVM | None = None) -> None:
        self.svm = (svm or LiteSVM()).with_blockhash_check(False)
        self._blockhashes: dict[str, int] = {}  # blockhash -> the slot it was issued at
        self._landed: dict[str, _Landed] = {}
        self._methods: dict[str, Callable[[list], Any]] = {
            "getHealth": lambda _: "ok",
            "getVersion": lambda _: {"solana-core": VERSION, "feature-set": 0},
            "getSlot": lambda _: self.slot,
            "getBlockHeight": lambda _: self.slot,
            "getLatestBlockhash": self._latest_blockhash,
            "isBlockhashValid": self._is_blockhash_valid,
            "getMinimumBalanceForRentExemption": self._rent_exempt_minimum,
            "getBalance": self._balance,
            "getAccountInfo": self._account_info,
            "getTokenAccountBalance": self._token_account_balance,
            "requestAirdrop": self._airdrop,
            "simulateTransaction": self._simulate,
            "sendTransaction": self._send,
            "getSignatureStatuses": self._signature_statuses,
            "getTransaction": self._transaction,
        }
        self._issue_blockhash()

    @property
    def slot(self) -> int:
        return self.svm.get_clock().slot

    def call(self, method: str, params: list) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        return handler(params)

    # -- blockhashes and slots ---------------------------------------------------------------
    def _issue_blockhash(self) -> str:
        blockhash = str(self.svm.latest_blockhash())
        self._blockhashes.setdefault(blockhash, self.slot)
        return blockhash

    def _next_slot(self) -> None:
        """A landed transaction closes its slot: the next one starts with a new blockhash."""
        self.svm.warp_to_slot(self.slot + 1)
        self.svm.expire_blockhash()
        self._issue_blockhash()
        oldest = self.slot - BLOCKHASH_VALID_SLOTS
        self._blockhashes = {h: s for h, s in self._blockhashes.items() if s >= oldest}

    def _context(self, value: Any) -> dict:
        return {"context": {"slot": self.slot, "apiVersion": VERSION}, "value": value}

    def _latest_blockhash(self, _params: list) -> dict:
        blockhash = self._issue_blockhash()
        return self._context(
            {"blockhash": blockhash, "lastValidBlockHeight": self.slot + BLOCKHASH_VALID_SLOTS}
        )

    def _is_blockhash_valid(self, params: list) -> dict:
        return self._context(params[0] in self._blockhashes)

    # -- accounts ----------------------------------------------------------------------------
    def _rent_exempt_minimum(self, params: list) -> int:
        return self.svm.minimum_balance_for_rent_exemption(int(params[0]))

    def _balance(self, params: list) -> dict:
        return self._context(self.svm.get_balance(_pubkey(params[0])) or 0)

    def _account_info(self, params: list) -> dict:
        account = self.svm.get_account(_pubkey(params[0]))
        if account is None:
            return self._context(None)
        data = bytes(account.data)
        return self._context(
            {
                "data": [base64.b64encode(data).decode(), "base64"],
                "executable": account.executable,
                "lamports": account.lamports,
                "owner": str(account.owner),
                "rentEpoch": 18_446_744_073_709_551_615,
                "space": len(data),
            }
        )

    def _token_account_balance(self, params: list) -> dict:
        account = self.svm.get_account(_pubkey(params[0]))
        try:
            holding = parse_token_account(bytes(account.data))
            decimals = parse_mint(bytes(self.svm.get_account(holding.mint).data)).decimals
        except (AttributeError, ValueError):  # no account, or not a token account
            raise RpcError(INVALID_PARAMS, "Invalid param: not a Token account") from None
        amount = holding.amount
        return self._context(
            {
                "amount": str(amount),
                "decimals": decimals,
                "uiAmount": amount / 10**decimals,
                "uiAmountString": _ui_amount(amount, decimals),
            }
        )

    def _airdrop(self, params: list) -> str:
        outcome = self.svm.airdrop(_pubkey(params[0]), int(params[1]))
        if hasattr(outcome, "err"):
            raise RpcError(-32603, f"airdrop failed: {outcome.err()}")
        signature = str(outcome.signature())
        self._landed[signature] = _Landed(self.slot, b"", None, list(outcome.logs()), 0, 0)
        self._next_slot()
        return signature

    # -- transactions ------------------------------------------------------------------------
    def _decode(self, params: list) -> tuple[VersionedTransaction, bytes, dict]:
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        encoding = config.get("encoding", "base58")
        if encoding != "base64":
            raise RpcError(INVALID_PARAMS, f"unsupported encoding: {encoding} (use base64)")
        wire = base64.b64decode(params[0])
        if len(wire) > PACKET_DATA_SIZE:
            raise RpcError(
                INVALID_PARAMS,
                f"base64 encoded solana_sdk::transaction::versioned::VersionedTransaction too "
                f"large: {len(wire)} bytes (max: encoded/raw {4 * -(-PACKET_DATA_SIZE // 3)}/"
                f"{PACKET_DATA_SIZE})",
            )
        try:
            transaction = VersionedTransaction.from_bytes(wire)
        except ValueError as error:
            raise RpcError(INVALID_PARAMS, f"failed to deserialize transaction: {error}") from None
        return transaction, wire, config

    def _simulate(self, params: list) -> dict:
        transaction, _, _ = self._decode(params)
        return self._context(self._simulation(transaction))

    def _simulation(self, transaction: VersionedTransaction) -> dict:
        outcome = self.svm.simulate_transaction(transaction)
        if hasattr(outcome, "err"):
            meta, err = outcome.meta(), _error_json(outcome.err())
        else:
            meta, err = outcome.meta(), None
        return {
            "err": err,
            "logs": list(meta.logs()),
            "accounts": None,
            "unitsConsumed": meta.compute_units_consumed(),
            "returnData": None,
        }

    def _send(self, params: list) -> str:
        transaction, wire, config = self._decode(params)
        signature = str(transaction.signatures[0])
        blockhash = str(transaction.message.recent_blockhash)
        if blockhash not in self._blockhashes:
            raise _preflight_failure("BlockhashNotFound", [], 0)
        if signature in self._landed:
            raise _preflight_failure("AlreadyProcessed", [], 0)
        if not config.get("skipPreflight", False):
            simulated = self._simulation(transaction)
            if simulated["err"] is not None:
                raise _preflight_failure(
                    simulated["err"], simulated["logs"], simulated["unitsConsumed"]
                )
        outcome = self.svm.send_transaction(transaction)
        failed = hasattr(outcome, "err")
        meta = outcome.meta() if failed else outcome
        self._landed[signature] = _Landed(
            self.slot,
            wire,
            _error_json(outcome.err()) if failed else None,
            list(meta.logs()),
            meta.compute_units_consumed(),
            meta.fee(),
        )
        self._next_slot()
        return signature

    def _signature_statuses(self, params: list) -> dict:
        statuses = []
        for signature in params[0]:
            landed = self._landed.get(signature)
            if landed is None:
                statuses.append(None)
                continue
            statuses.append(
                {
                    "slot": landed.slot,
                    "confirmations": None,
                    "err": landed.err,
                    "status": {"Ok": None} if landed.err is None else {"Err": landed.err},
                    "confirmationStatus": "finalized",
                }
            )
        return self._context(statuses)

    def _transaction(self, params: list) -> dict | None:
        landed = self._landed.get(params[0])
        if landed is None:
            return None
        return {
            "slot": landed.slot,
            "blockTime": self.svm.get_clock().unix_timestamp,
            "transaction": [base64.b64encode(landed.wire).decode(), "base64"],
            "meta": {
                "err": landed.err,
                "status": {"Ok": None} if landed.err is None else {"Err": landed.err},
                "fee": landed.fee,
                "preBalances": [],
                "postBalances": [],
                "innerInstructions": [],
                "logMessages": landed.logs,
                "preTokenBalances": [],
                "postTokenBalances": [],
                "rewards": [],
                "computeUnitsConsumed": landed.units,
            },
        }


def _ui_amount(amount: int, decimals: int) -> str:
    """``12345678`` raw at 6 decimals -> ``"12.345678"``, exactly (no float)."""
    whole, fraction = divmod(amount, 10**decimals)
    digits = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    return f"{whole}.{digits}" if digits else str(whole)


def _pubkey(text: str) -> Pubkey:
    try:
        return Pubkey.from_string(text)
    except ValueError:
        raise RpcError(INVALID_PARAMS, f"Invalid param: {text!r} is not a public key") from None


def _error_json(error: Any) -> Any:
    """A LiteSVM transaction error in a validator's JSON form: ``"AccountNotFound"``,
    ``{"InstructionError": [0, {"Custom": 3}]}``, ``{"InsufficientFundsForRent":
    {"account_index": 1}}``, ..."""
    kind = type(error).__name__
    if kind == "TransactionErrorInstructionError":
        return {"InstructionError": [error.index, _instruction_error_json(error.err)]}
    if kind == "TransactionErrorFieldless":
        return _variant_name(error)
    return {kind.removeprefix("TransactionError"): json.loads(error.to_json())}


def _instruction_error_json(error: Any) -> Any:
    kind = type(error).__name__
    if kind == "InstructionErrorCustom":
        return {"Custom": error.code}
    if kind == "InstructionErrorBorshIO":
        return {"BorshIoError": json.loads(error.to_json())}
    return _variant_name(error)  # InstructionErrorFieldless


def _variant_name(member: Any) -> str:
    """``TransactionErrorFieldless.AccountNotFound`` -> ``"AccountNotFound"``."""
    return str(member).rsplit(".", 1)[-1]


def _preflight_failure(err: Any, logs: list[str], units: int) -> RpcError:
    return RpcError(
        PREFLIGHT_FAILURE,
        f"Transaction simulation failed: {err}",
        {
            "err": err,
            "logs": logs,
            "accounts": None,
            "unitsConsumed": units,
            "returnData": None,
        },
    )


def create_app(validator: LocalValidator) -> Starlette:
    async def rpc(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(_error_reply(None, RpcError(-32700, "Parse error")))
        if isinstance(body, list):
            return JSONResponse([_answer(validator, item) for item in body])
        return JSONResponse(_answer(validator, body))

    return Starlette(routes=[Route("/", rpc, methods=["POST"])])


def _answer(validator: LocalValidator, request: Any) -> dict:
    if not isinstance(request, dict) or "method" not in request:
        return _error_reply(None, RpcError(-32600, "Invalid request"))
    try:
        result = validator.call(request["method"], request.get("params") or [])
    except RpcError as error:
        return _error_reply(request.get("id"), error)
    return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}


def _error_reply(request_id: Any, error: RpcError) -> dict:
    body: dict = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}
