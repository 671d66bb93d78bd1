"""The ledger admin page's actions, each behind the admin token and a confirmation step: pause
or resume Proof-of-Charge, new rates (typed, or loaded from a token settings file), a burn from
a holder, harvesting and withdrawing the withheld fees. The API's answer to the last action is
kept in the session and shown, refusals explained."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import streamlit as st

from central_system.tokens.settings_file import TokenSettingsError, load_token_settings
from programs.proof_of_charge import Rates
from programs.spl.evch_mint import EVCH_DECIMALS
from twin.report.formats import evch_text
from twin.ui.csms_api import Answer, CsmsApi

PENDING = "ledger_admin_pending"  # session state: the action waiting for its confirmation
ANSWERED = "ledger_admin_answered"  # session state: (action, answer) of the last one confirmed
RATES_FILE = "ledger_admin_rates_file"  # session state: the settings file the fields came from
RATE_FIELDS = tuple(f.name for f in dataclasses.fields(Rates))
MIN_REASON = 3  # the API's shortest reason


@dataclass(frozen=True)
class Action:
    title: str
    method: str
    path: str
    body: dict
    consequence: str  # what confirming does, in words


def actions(api: CsmsApi, config: dict | None, fees: dict | None) -> None:
    """The last answer, the action waiting for confirmation, and the forms that propose one."""
    _last_answer()
    if _confirmation(api):
        return
    pause, rates, burn, withdraw = st.tabs(["Pause / resume", "Rates", "Burn", "Withdraw fees"])
    with pause:
        _pause(config)
    with rates:
        _rates(config)
    with burn:
        _burn()
    with withdraw:
        _withdraw(fees)


def _propose(action: Action) -> None:
    st.session_state[PENDING] = action
    st.rerun()


def _confirmation(api: CsmsApi) -> bool:
    """The action waiting for its confirmation, if any (True: the forms wait meanwhile)."""
    action: Action | None = st.session_state.get(PENDING)
    if action is None:
        return False
    with st.container(border=True):
        st.warning(f"**{action.title}?** {action.consequence}")
        st.json(action.body)
        confirm, cancel = st.columns(2)
        if confirm.button("Confirm", key="ledger_admin_confirm", type="primary"):
            with st.spinner(f"{action.title}: sending to the central system"):
                answer = api.call(action.method, action.path, action.body)
            st.session_state[ANSWERED] = (action, answer)
            del st.session_state[PENDING]
            st.rerun()
        if cancel.button("Cancel", key="ledger_admin_cancel"):
            del st.session_state[PENDING]
            st.rerun()
    return True


def _last_answer() -> None:
    answered: tuple[Action, Answer] | None = st.session_state.get(ANSWERED)
    if answered is None:
        return
    action, answer = answered
    if answer.ok:
        row = answer.body
        st.success(
            f"{action.title}: {row.get('status', 'done')} on the ledger "
            f"(transaction {row.get('kind')}, signature {row.get('signature') or '—'})."
        )
    else:
        st.error(f"{action.title}: refused. {answer.error}")
    with st.expander("The API's answer", expanded=not answer.ok):
        st.json(answer.body if answer.body is not None else {})


def _reason(key: str) -> str | None:
    reason = st.text_input(
        "Reason", key=key, help="kept with the transaction (at least 3 characters)"
    ).strip()
    return reason if len(reason) >= MIN_REASON else None


def _pause(config: dict | None) -> None:
    if config is None:
        st.info("The Proof-of-Charge state is unknown: the config could not be read.")
        return
    paused = config["proof_of_charge"]["paused"]
    st.markdown(f"Proof-of-Charge is **{'paused' if paused else 'running'}**.")
    reason = _reason("ledger_admin_pause_reason")
    verb = "Resume" if paused else "Pause"
    if st.button(f"{verb} Proof-of-Charge", key="ledger_admin_pause", disabled=reason is None):
        consequence = (
            "The program records sessions again, first those that waited."
            if paused
            else "The program refuses every record until resumed; sessions ending meanwhile "
            "wait in the outbox."
        )
        path = "/token/admin/resume" if paused else "/token/admin/pause"
        _propose(Action(f"{verb} Proof-of-Charge", "POST", path, {"reason": reason}, consequence))


def _rates(config: dict | None) -> None:
    if config is None:
        st.info("The current rates are unknown: the config could not be read.")
        return
    current = config["proof_of_charge"]["rates"]
    uploaded = st.file_uploader(
        "Load them from a token settings file",
        type=["toml"],
        key="ledger_admin_rates_upload",
        help="the [token_service] table the Tokenomics tuner exports; only its rates apply "
        "here (the fee, lockups, tiers and peg are set when EVCH is bootstrapped)",
    )
    if uploaded is not None and st.session_state.get(RATES_FILE) != uploaded.file_id:
        try:
            settings, _ = load_token_settings(uploaded.getvalue().decode("utf-8"))
        except (TokenSettingsError, UnicodeDecodeError) as error:
            st.error(f"{uploaded.name} is not a token settings file:\n\n{error}")
        else:
            st.session_state[RATES_FILE] = uploaded.file_id
            for name in RATE_FIELDS:
                st.session_state[f"ledger_admin_rate_{name}"] = getattr(settings.rates, name)
    wanted = {}
    columns = st.columns(3)
    for index, name in enumerate(RATE_FIELDS):
        key = f"ledger_admin_rate_{name}"
        st.session_state.setdefault(key, current[name])
        wanted[name] = int(columns[index % 3].number_input(name, min_value=0, step=1, key=key))
    changed = {name: value for name, value in wanted.items() if value != current[name]}
    reason = _reason("ledger_admin_rates_reason")
    if st.button(
        "Update the rates", key="ledger_admin_rates", disabled=not changed or reason is None
    ):
        lines = ", ".join(
            f"{name} {current[name]:,} → {value:,}" for name, value in changed.items()
        )
        _propose(
            Action(
                "Update the Proof-of-Charge rates",
                "PUT",
                "/token/admin/rates",
                {"reason": reason, **changed},
                f"Sessions recorded from now on mint under the new rates: {lines}.",
            )
        )
    if not changed:
        st.caption("Change a rate (or load a file) to update them.")


def _burn() -> None:
    owner = st.text_input(
        "Holder", key="ledger_admin_burn_owner", help="the wallet's owner ref: a driver's id token"
    ).strip()
    amount = st.text_input("Amount (EVCH)", key="ledger_admin_burn_amount", placeholder="1.5")
    amount_raw = evch_raw(amount) if amount.strip() else 0
    if amount_raw is None:
        st.error(f"{amount!r} is not an amount of EVCH")
        amount_raw = 0
    reason = _reason("ledger_admin_burn_reason")
    if st.button(
        "Burn", key="ledger_admin_burn", disabled=not owner or amount_raw <= 0 or reason is None
    ):
        _propose(
            Action(
                f"Burn {evch_text(amount_raw)} EVCH from {owner}",
                "POST",
                "/token/admin/burn",
                {"owner_ref": owner, "amount_raw": amount_raw, "reason": reason},
                "The mint's permanent delegate destroys them, frozen account or not; the "
                "supply falls by as much. This cannot be undone.",
            )
        )


def _withdraw(fees: dict | None) -> None:
    if fees is not None:
        st.markdown(
            f"**{evch_text(fees['withheld_total_raw'])} EVCH** withheld "
            f"({evch_text(fees['withheld_in_accounts_raw'])} on the accounts, "
            f"{evch_text(fees['withheld_in_mint_raw'])} in the mint)."
        )
    reason = _reason("ledger_admin_withdraw_reason")
    if st.button("Harvest and withdraw", key="ledger_admin_withdraw", disabled=reason is None):
        _propose(
            Action(
                "Harvest and withdraw the withheld fees",
                "POST",
                "/token/admin/fees/withdraw",
                {"reason": reason},
                "Every withheld fee is harvested into the mint and moved to the treasury.",
            )
        )


def evch_raw(typed: str) -> int | None:
    """EVCH typed in, in raw units (decimals past the 6th dropped); None if it is no number."""
    try:
        amount = Decimal(typed)
    except InvalidOperation:
        return None
    return int(amount.scaleb(EVCH_DECIMALS)) if amount.is_finite() else None
