"""EVCH on a local JSON-RPC validator, as the `local_validator` fixture and `evch validator`
start it: the programs deployed through the upgradeable loader, the mints created, and a
session recorded through the RpcLedger as the central system records one."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from central_system.domain.model import Verification
from central_system.ledger import token_amount
from central_system.tokens.bootstrap import DEFAULT_TIERS, TokenSettings
from programs import proof_of_charge as poc
from programs import staking
from programs.proof_of_charge import ChargeRecord, ConfigState, PocError, RewardClass
from programs.sbpf.loader_v3 import LOADER_V3_ID, programdata_address
from programs.spl.evch_mint import EVCH_MINT_EXTENSIONS
from programs.spl.token2022 import (
    TOKEN_2022_PROGRAM_ID,
    AccountState,
    TokenError,
    associated_token_address,
    create_associated_token_account_idempotent,
    parse_mint,
    parse_token_account,
    thaw_account,
)
from tests.evch_process import evch
from twin.replay import Audit, SessionAudit
from twin.replay.live_ledger import check_live

PROGRAMDATA_TAG = 3  # UpgradeableLoaderState::ProgramData


async def account_info(url: str, address: Pubkey) -> dict | None:
    """getAccountInfo as any Solana client sees it (owner and executable included)."""
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(
            url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "getAccountInfo",
                "params": [str(address), {"encoding": "base64"}],
            },
        )
    return reply.json()["result"]["value"]


def account_bytes(info: dict) -> bytes:
    return base64.b64decode(info["data"][0])


async def test_both_programs_are_deployed_through_the_upgradeable_loader(local_validator):
    admin = local_validator.authorities.admin.pubkey()
    for program in (local_validator.deployment.proof_of_charge, local_validator.deployment.staking):
        info = await account_info(local_validator.url, program)
        assert info["owner"] == str(LOADER_V3_ID) and info["executable"], local_validator.kind
        programdata = await account_info(local_validator.url, programdata_address(program))
        data = account_bytes(programdata)
        assert programdata["owner"] == str(LOADER_V3_ID)
        assert int.from_bytes(data[:4], "little") == PROGRAMDATA_TAG
        assert data[12] == 1 and Pubkey.from_bytes(data[13:45]) == admin  # upgrade authority


async def test_the_mints_and_accounts_are_created_as_designed(local_validator):
    ledger, deployment, keys = (
        local_validator.ledger,
        local_validator.deployment,
        local_validator.authorities,
    )
    mint = parse_mint(await ledger.account_data(deployment.mint))
    assert mint.decimals == 6 and mint.supply == 0
    assert set(EVCH_MINT_EXTENSIONS) <= set(mint.extensions)
    assert mint.mint_authority == poc.mint_authority_address(deployment.proof_of_charge)
    assert mint.freeze_authority == keys.kyc.pubkey()
    assert mint.default_account_state is AccountState.FROZEN
    assert mint.permanent_delegate == keys.regulator.pubkey()
    assert mint.transfer_fee_config.newer.basis_points == TokenSettings().transfer_fee_bps
    assert mint.token_metadata.symbol == "EVCH" and mint.token_metadata.get("unit") == "kWh"
    assert parse_mint(await ledger.account_data(deployment.green_mint)).non_transferable

    for account in (deployment.operator_account, deployment.vault):
        token_account = parse_token_account(await ledger.account_data(account))
        assert token_account.mint == deployment.mint and not token_account.is_frozen

    staking_config = staking.parse_config(
        await ledger.account_data(staking.config_address(deployment.staking))
    )
    assert staking_config.vault == deployment.vault and staking_config.tiers == DEFAULT_TIERS


async def test_the_proof_of_charge_config_has_the_attestor(local_validator):
    data = await local_validator.ledger.account_data(
        poc.config_address(local_validator.deployment.proof_of_charge)
    )
    config = ConfigState.parse(data)
    assert config.attestors == (local_validator.authorities.attestor.pubkey(),)
    assert config.admin == local_validator.authorities.admin.pubkey()
    assert config.mint == local_validator.deployment.mint
    assert config.rates == TokenSettings().rates and not config.paused
    assert config.sessions_recorded == 0


def recorded_by_attestor(local, driver_token: Pubkey, record: ChargeRecord):
    """RecordCharge by the deployment's attestor, the admin paying the session account."""
    keys, deployment = local.authorities, local.deployment
    return poc.record_charge(
        deployment.proof_of_charge,
        attestor=keys.attestor.pubkey(),
        payer=keys.admin.pubkey(),
        mint=deployment.mint,
        driver_token=driver_token,
        operator_token=deployment.operator_account,
        record=record,
    )


async def test_a_session_is_minted_once_to_a_thawed_account(local_validator):
    """The central system's RecordCharge over JSON-RPC: a frozen account is refused, a thawed
    one receives the driver's share, and the same session a second time is refused."""
    ledger, deployment, keys = (
        local_validator.ledger,
        local_validator.deployment,
        local_validator.authorities,
    )
    admin, attestor, driver = keys.admin, keys.attestor, Keypair()
    account = associated_token_address(driver.pubkey(), deployment.mint)
    opened = await ledger.send(
        [
            create_associated_token_account_idempotent(
                admin.pubkey(), driver.pubkey(), deployment.mint
            )
        ],
        admin,
    )
    assert opened.ok, opened.logs
    stop = datetime(2025, 3, 3, 10, tzinfo=UTC)
    record = ChargeRecord.for_session(
        "S-1", "CP-1", 7_300, stop - timedelta(hours=1), stop, bytes(32), RewardClass.RENEWABLE
    )
    instruction = recorded_by_attestor(local_validator, account, record)
    frozen = await ledger.send([instruction], admin, [attestor])
    assert not frozen.ok and frozen.custom_error == TokenError.ACCOUNT_FROZEN

    thawed = await ledger.send(
        [thaw_account(account, deployment.mint, keys.kyc.pubkey())], admin, [keys.kyc]
    )
    assert thawed.ok, thawed.logs
    recorded = await ledger.send([instruction], admin, [attestor])
    assert recorded.ok and recorded.compute_units > 0, recorded.logs
    amounts = poc.mint_amounts(TokenSettings().rates, 7_300, RewardClass.RENEWABLE)
    assert amounts.reward_raw > 0
    assert await token_amount(ledger, account) == amounts.driver_total_raw
    assert await token_amount(ledger, deployment.operator_account) == amounts.operator_raw

    again = await ledger.send([instruction], admin, [attestor])
    assert not again.ok and again.custom_error == PocError.DUPLICATE_SESSION
    config = ConfigState.parse(
        await ledger.account_data(poc.config_address(deployment.proof_of_charge))
    )
    assert (config.sessions_recorded, config.verified_wh) == (1, 7_300)
    assert await token_amount(ledger, account) == amounts.driver_total_raw


async def test_evch_validator_starts_with_evch_deployed_and_writes_its_keys(tmp_path):
    """The command as a user runs it: the deployment printed, the keys file private (even
    over an existing file), the mint on the ledger with the regulator from that file."""
    keys_out = tmp_path / "keys.json"
    keys_out.write_text("old")
    keys_out.chmod(0o644)
    args = ("validator", "--port", "0", "--keys-out", str(keys_out))
    async with evch(*args, ready="Solana JSON-RPC") as printed:
        url = printed[-1].split()[2]
        keys = json.loads(keys_out.read_text())
        assert stat.S_IMODE(keys_out.stat().st_mode) == 0o600
        assert keys["rpc_url"] == url
        assert keys["deployment"]["evch_mint"] in "".join(printed)

        info = await account_info(url, Pubkey.from_string(keys["deployment"]["evch_mint"]))
        assert info["owner"] == str(TOKEN_2022_PROGRAM_ID)
        regulator = Keypair.from_bytes(bytes(keys["authorities"]["regulator"]["secret_key"]))
        assert parse_mint(account_bytes(info)).permanent_delegate == regulator.pubkey()


async def test_replay_checks_sessions_against_the_live_ledger(local_validator):
    """`evch replay --ledger-url`: a session's Proof-of-Charge account on the live ledger must
    hold its verified energy and expected amounts, and unverified energy must have none."""
    ledger, deployment, keys = (
        local_validator.ledger,
        local_validator.deployment,
        local_validator.authorities,
    )
    admin, attestor, kyc, driver = keys.admin, keys.attestor, keys.kyc, Keypair()
    account = associated_token_address(driver.pubkey(), deployment.mint)
    stop = datetime(2025, 3, 3, 10, tzinfo=UTC)
    record = ChargeRecord.for_session(1, "CP-1", 7_300, stop - timedelta(hours=1), stop, bytes(32))
    sent = await ledger.send(
        [
            create_associated_token_account_idempotent(
                admin.pubkey(), driver.pubkey(), deployment.mint
            ),
            thaw_account(account, deployment.mint, kyc.pubkey()),
            recorded_by_attestor(local_validator, account, record),
        ],
        admin,
        [kyc, attestor],
    )
    assert sent.ok, sent.logs
    expected = poc.mint_amounts(TokenSettings().rates, 7_300).total_raw

    def session(session_id: int, verified_wh: int | None, expected_raw: int) -> SessionAudit:
        return SessionAudit(
            charger_id="CP-1",
            transaction_ref=str(session_id),
            protocol="1.6",
            session_id=session_id,
            id_token="TAG",
            started_at=stop - timedelta(hours=1),
            stopped_at=stop,
            energy_wh=7_300,
            verified_energy_wh=verified_wh,
            verification=Verification.VERIFIED if verified_wh else Verification.UNVERIFIED,
            reason=None if verified_wh else "BAD_SIGNATURE: altered",
            signature=None,
            meter_serial=None,
            cost_minor=None,
            currency=None,
            expected_mint_raw=expected_raw,
            minted_raw=expected_raw or None,
        )

    def audit(*sessions: SessionAudit) -> Audit:
        return Audit(Path("run"), "live", 0, sessions, ())

    program = str(deployment.proof_of_charge)
    clean = await check_live(
        audit(session(1, 7_300, expected), session(2, None, 0)), local_validator.url, program
    )
    assert clean.reconciled, clean.differences
    wrong_energy = await check_live(
        audit(session(1, 7_200, expected)), local_validator.url, program
    )
    (difference,) = wrong_energy.differences
    assert "recorded 7300 Wh, the signed readings prove 7200" in difference
    unverified = await check_live(audit(session(1, None, 0)), local_validator.url, program)
    (difference,) = unverified.differences
    assert "Proof-of-Charge for unverified energy" in difference
