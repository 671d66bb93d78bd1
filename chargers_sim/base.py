"""What every emulated charger does, whatever protocol version it speaks.

A charger keeps one WebSocket to the central system and reconnects with exponential backoff
when it drops. Transaction-related messages go through an outbox: queued while offline and
delivered in order once connected again, as both OCPP versions require. Other messages
(heartbeats, status) are sent only while connected; statuses are re-announced on reconnect.

Smart charging: the charging profiles the central system installs (`profiles`, see
`chargers_sim.smart_charging`) cap what an EV may draw (`offered_w`); the attached load learns of
a change through `on_limit_change` and of the next scheduled step through `next_limit_change`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpp.exceptions import OCPPError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from chargers_sim.clock import Clock
from chargers_sim.driver_display import DisplayedCost, DisplayKind, DriverDisplay
from chargers_sim.meter import EnergyMeter
from chargers_sim.outbox import Outbox
from chargers_sim.signed_meter import END_REASONS, MeterSigner, altered
from chargers_sim.smart_charging import (
    ChargingProfile,
    ProfileStore,
    RateUnit,
    Rejection,
    share_w,
)
from ocmf import ReadingReason, SignedMeterValue
from ocppj import ConnectionLost, FrameObserver, TappedConnection
from ocppj.redact import redacted_logger
from ocppj.wire import to_wire_time

log = logging.getLogger(__name__)


class ChargerStateError(Exception):
    """The action is impossible in the charger's current state (e.g. no cable plugged in)."""


# What TriggerMessage can ask of an emulated charger, in both versions.
TRIGGERABLE = {"BootNotification", "Heartbeat", "MeterValues", "StatusNotification"}


@dataclass(frozen=True)
class ChargerConfig:
    charger_id: str
    csms_url: str  # the endpoint without the charger id, e.g. ws://127.0.0.1:9000/ocpp
    ocpp_version: str = "1.6"
    evse_count: int = 1
    max_power_kw: float = 22.0
    vendor: str = "EVCH"
    model: str = "EmulatedCharger"
    serial_number: str | None = None
    firmware_version: str = "1.0.0"
    meter_interval_s: int = 60
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 60.0
    response_timeout_s: float = 30.0
    # LocalAuthorizeOffline: accept tokens the central system accepted before.
    authorize_offline: bool = True
    # How charging-profile limits in A convert to W: AC per phase at voltage_v (phase to
    # neutral) on `phases` phases; DC at voltage_v, the DC voltage.
    current: str = "AC"  # "AC" | "DC"
    voltage_v: float = 230.0
    phases: int = 3
    # The currency the display shows amounts in (ISO 4217; 2.0.1 TariffCostCtrlr.Currency,
    # which the central system may set).
    currency: str = "EUR"
    # Eichrecht metering: each EVSE's meter signs its transaction start and stop readings
    # (OCMF) with a key derived from this seed and the meter serial (signed_meter.py).
    signs_meter_values: bool = True
    meter_key_seed: str = "evch"
    # OCPP security profiles, the charger's side. 1 and 2: HTTP Basic Auth with user = the
    # charger id and this password (1.6 AuthorizationKey, 2.0.1 BasicAuthPassword). 2 and 3: a
    # wss:// csms_url; tls_ca_file is the CA trusted for the server's certificate (None: the
    # system's). 3: the charger's client certificate (subject CN = its id) and key, PEM.
    basic_auth_password: str | None = field(default=None, repr=False)
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    def connect_options(self) -> dict[str, Any]:
        """The security-related keyword arguments of `websockets...connect` for this charger."""
        options: dict[str, Any] = {}
        if self.basic_auth_password is not None:
            user_password = f"{self.charger_id}:{self.basic_auth_password}".encode()
            options["additional_headers"] = {
                "Authorization": "Basic " + base64.b64encode(user_password).decode("ascii")
            }
        if self.csms_url.startswith("wss://"):
            context = ssl.create_default_context(cafile=self.tls_ca_file)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.tls_cert_file is not None:
                context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
            options["ssl"] = context
        return options


@dataclass
class Transaction:
    id_token: str
    started_at: datetime
    meter_start_wh: int
    # 1.6: set from the central system's answer to StartTransaction; 2.0.1: ours from the start.
    transaction_id: str | None
    offline: bool
    remote_start_id: int | None = None
    seq_no: itertools.count = field(default_factory=itertools.count)
    # The meter's signed start reading (None where the meter does not sign).
    signed_begin: SignedMeterValue | None = None


@dataclass
class Evse:
    evse_id: int
    meter: EnergyMeter
    signer: MeterSigner | None = None
    plugged: bool = False
    operative: bool = True
    faulted: bool = False
    # ChangeAvailability(Inoperative) during a transaction takes effect when it ends.
    inoperative_after_transaction: bool = False
    transaction: Transaction | None = None
    # 1.6 shows Finishing between the end of a transaction and the cable leaving.
    finished: bool = False
    status: str | None = None


class EmulatedCharger:
    """Base of `EmulatedChargerV16` and `EmulatedChargerV201` (mixed in before the ocpp class)."""

    subprotocol: str

    def __init__(
        self, config: ChargerConfig, clock: Clock, frame_observer: FrameObserver | None = None
    ) -> None:
        super().__init__(config.charger_id, None, config.response_timeout_s)
        self.use_counter_ids()
        self.config = config
        self.clock = clock
        self.evses = {
            n: Evse(
                n,
                EnergyMeter(clock),
                MeterSigner.for_evse(config, n) if config.signs_meter_values else None,
            )
            for n in range(1, config.evse_count + 1)
        }
        # Fault injection: Wh the charger adds to its stop readings after the meter signed them.
        self.tamper_wh = 0
        self.heartbeat_interval_s = 300
        self._frame_observer = frame_observer
        self._booted = False
        self._online = asyncio.Event()
        self._outbox = Outbox(config.charger_id)
        self._allowed_online = asyncio.Event()
        self._allowed_online.set()
        self._auth_cache: dict[str, bool] = {}
        self._tasks: set[asyncio.Task] = set()
        self._after_reply: list[Awaitable] = []
        self._runner: asyncio.Task | None = None
        self._meter: asyncio.Task | None = None
        self._websocket = None
        self._connecting = False
        self.profiles = ProfileStore(self.evses)
        # Called with an EVSE id (0: all of them) when installed or cleared charging profiles
        # change what it may draw, after the answer to the command; the attached load decides
        # its draw again (`offered_w`).
        self.on_limit_change: Callable[[int], None] | None = None
        # What the driver sees: prices and costs from the central system (driver_display.py).
        # `on_display` is called with each new entry as the message bringing it is handled; it
        # must only record (it runs inside the charger's message handling).
        self.display = DriverDisplay()
        self.on_display: Callable[[DisplayedCost], None] | None = None

    def meter_keys(self) -> dict[int, tuple[str, bytes]]:
        """EVSE id -> (meter serial, public key DER): what the operator registers at
        onboarding, as printed on each meter."""
        return {
            evse.evse_id: (evse.signer.serial, evse.signer.key.public_key_der)
            for evse in self.evses.values()
            if evse.signer is not None
        }

    def _sign(
        self, evse: Evse, transaction: Transaction, reason: ReadingReason, register_wh: int
    ) -> SignedMeterValue | None:
        if evse.signer is None:
            return None
        return evse.signer.sign(
            reason=reason,
            register_wh=register_wh,
            at=self.clock.now(),
            id_token=transaction.id_token,
            charge_point=f"{self.id} {evse.evse_id}",
        )

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def online(self) -> bool:
        return self._online.is_set()

    @property
    def connecting(self) -> bool:
        """A connection attempt (TCP and WebSocket handshake) is under way."""
        return self._connecting

    async def power_on(self) -> None:
        """Connect (and keep reconnecting) in the background."""
        self._runner = asyncio.create_task(self._run(), name=f"charger-{self.id}")
        self._meter = asyncio.create_task(self._meter_loop(), name=f"meter-{self.id}")

    async def wait_online(self, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            await self._online.wait()

    async def power_off(self) -> None:
        tasks = [t for t in [self._runner, self._meter, *self._tasks] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._websocket is not None:
            await self._websocket.close()

    def spawn(self, coroutine: Awaitable) -> asyncio.Task:
        """Run follow-up work (e.g. the transaction after a remote start) as a tracked task."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def after_reply(self, coroutine: Awaitable) -> None:
        """Run `coroutine` once the answer to the command being handled has been sent.

        A charger answers RemoteStart before it starts the transaction; doing the follow-up
        only after our reply is on the wire keeps the frame order deterministic.
        """
        self._after_reply.append(coroutine)

    async def _send(self, message: str) -> None:
        await super()._send(message)
        if self._after_reply and not message.startswith("[2"):
            follow_ups, self._after_reply = self._after_reply, []
            for coroutine in follow_ups:
                self.spawn(coroutine)

    async def settle(self) -> None:
        """Wait until follow-up work is done and every queued message is delivered."""
        while True:
            if self._tasks:
                await asyncio.wait(set(self._tasks))
                continue
            if self._outbox and self.online:
                await self._outbox.delivered()
                continue
            return

    # -- fault injection ---------------------------------------------------------------------
    async def go_offline(self) -> None:
        """Drop the connection and stay offline until `go_online` (a network fault)."""
        self._allowed_online.clear()
        if self._websocket is not None:
            await self._websocket.close()

    def go_online(self) -> None:
        self._allowed_online.set()

    # -- what a driver and an EV do ----------------------------------------------------------
    async def plug_in(self, evse_id: int) -> None:
        evse = self.evse(evse_id)
        evse.plugged = True
        evse.finished = False
        await self._announce(evse)

    async def authorize(self, id_token: str) -> bool:
        """Ask the central system; when offline, trust tokens it accepted before."""
        if self.online:
            try:
                accepted = await self._authorize(id_token)
                self._auth_cache[id_token] = accepted
                return accepted
            except (ConnectionLost, TimeoutError):
                pass
        return self.config.authorize_offline and self._auth_cache.get(id_token, False)

    async def start_transaction(
        self, evse_id: int, id_token: str, remote_start_id: int | None = None
    ) -> Transaction:
        evse = self.evse(evse_id)
        if evse.transaction is not None:
            raise ChargerStateError(f"EVSE {evse_id} already has a transaction")
        if not evse.operative or evse.faulted:
            raise ChargerStateError(f"EVSE {evse_id} is out of service")
        if not evse.plugged:
            raise ChargerStateError(f"EVSE {evse_id} has no cable plugged in")
        transaction = Transaction(
            id_token=id_token,
            started_at=self.clock.now(),
            meter_start_wh=evse.meter.register_wh(),
            transaction_id=self._new_transaction_id(),
            offline=not self.online,
            remote_start_id=remote_start_id,
        )
        transaction.signed_begin = self._sign(
            evse, transaction, ReadingReason.BEGIN, transaction.meter_start_wh
        )
        evse.transaction = transaction
        self._queue_started(evse, transaction)
        self._sharing_changed()
        await self._announce(evse)
        return transaction

    def set_power(self, evse_id: int, power_w: float) -> float:
        """The attached EV draws `power_w`, capped at what the EVSE offers; returns the draw."""
        evse = self.evse(evse_id)
        if evse.transaction is None and power_w > 0:
            raise ChargerStateError(f"EVSE {evse_id} has no transaction to deliver energy to")
        draw_w = min(power_w, self.offered_w(evse_id))
        evse.meter.set_power(draw_w)
        return draw_w

    async def stop_transaction(self, evse_id: int, reason: str = "Local") -> Transaction:
        evse = self.evse(evse_id)
        transaction = evse.transaction
        if transaction is None:
            raise ChargerStateError(f"EVSE {evse_id} has no transaction")
        evse.meter.set_power(0.0)
        evse.transaction = None
        self.profiles.transaction_ended(evse_id)  # TxProfiles end with their transaction
        evse.finished = evse.plugged
        self._sharing_changed()
        register_wh = evse.meter.register_wh()
        end = END_REASONS.get(reason, ReadingReason.END)
        signed = self._sign(evse, transaction, end, register_wh)
        stop_wh = register_wh + self.tamper_wh
        if signed is not None and self.tamper_wh:
            signed = altered(signed, register_wh, stop_wh)
        self._queue_ended(evse, transaction, stop_wh, reason, signed)
        if evse.inoperative_after_transaction:
            evse.operative, evse.inoperative_after_transaction = False, False
        await self._announce(evse)
        return transaction

    async def unplug(self, evse_id: int) -> None:
        evse = self.evse(evse_id)
        if evse.transaction is not None:
            await self.stop_transaction(evse_id, "EVDisconnected")
        evse.plugged = False
        evse.finished = False
        await self._announce(evse)

    def evse(self, evse_id: int) -> Evse:
        try:
            return self.evses[evse_id]
        except KeyError:
            raise ChargerStateError(f"{self.id} has no EVSE {evse_id}") from None

    # -- answers to central-system commands, shared by both versions ---------------------------
    def _accept_remote_start(
        self,
        id_token: str,
        evse_id: int | None,
        remote_start_id: int | None,
        profile: ChargingProfile | None = None,
    ) -> bool:
        candidates = [self.evses.get(evse_id)] if evse_id else list(self.evses.values())
        evse = next(
            (
                e
                for e in candidates
                if e and e.transaction is None and e.operative and not e.faulted
            ),
            None,
        )
        if evse is None:
            return False

        async def begin() -> None:
            # An emulated EV is always ready at the charger the operator picked.
            if not evse.plugged:
                await self.plug_in(evse.evse_id)
            await self.start_transaction(evse.evse_id, id_token, remote_start_id)
            if profile is not None:  # the TxProfile to use for this transaction
                self._install_for_transaction(evse, profile)

        self.after_reply(begin())
        return True

    def _accept_remote_stop(self, transaction_id: str) -> bool:
        for evse in self.evses.values():
            if evse.transaction and evse.transaction.transaction_id == transaction_id:
                self.after_reply(self.stop_transaction(evse.evse_id, "Remote"))
                return True
        return False

    def _change_availability(self, evse_id: int, operative: bool) -> str:
        evses = list(self.evses.values()) if evse_id == 0 else [self.evse(evse_id)]
        busy = any(e.transaction for e in evses)
        for evse in evses:
            if evse.transaction and not operative:
                evse.inoperative_after_transaction = True
            else:
                evse.operative = operative
                self.after_reply(self._announce(evse))
        return "Scheduled" if busy and not operative else "Accepted"

    def _reset(self, reason: str, when_idle: bool = False) -> None:
        """Reboot: end transactions (or, `when_idle`, wait for them to end), then reconnect."""

        async def reboot() -> None:
            for evse in self.evses.values():
                if evse.transaction and not when_idle:
                    await self.stop_transaction(evse.evse_id, reason)
            while any(e.transaction for e in self.evses.values()):
                await self.clock.sleep(1)
            if self.online:
                await self._outbox.delivered()
            self._booted = False
            if self._websocket is not None:
                await self._websocket.close()

        self.after_reply(reboot())

    async def _triggered(self, message: str, evse_id: int | None) -> None:
        """Send what a TriggerMessage asked for (after the answer to it)."""
        evses = [self.evses[evse_id]] if evse_id else list(self.evses.values())
        if message == "Heartbeat":
            await self._send_now(self._heartbeat_request())
        elif message == "BootNotification":
            await self._send_boot()
        elif message == "StatusNotification":
            for evse in evses:
                await self._announce(evse, force=True)
        else:
            for evse in evses:
                await self._send_now(self._triggered_meter_values(evse))

    def _unlock(self, evse_id: int) -> None:
        if self.evse(evse_id).transaction:
            self.after_reply(self.stop_transaction(evse_id, "UnlockCommand"))

    # -- smart charging ----------------------------------------------------------------------
    @property
    def rated_w(self) -> float:
        """What one EVSE delivers at most."""
        return self.config.max_power_kw * 1000.0

    def offered_w(self, evse_id: int) -> float:
        """What the EVSE lets an EV draw now, in W: its rating within the composite schedule,
        and within its share of a charger-wide cap while other EVSEs charge too."""
        now = self.clock.now()
        evse = self.evse(evse_id)
        own_w = self.profiles.limit_w(evse_id, now, **self._supply(evse))
        cap_w = self._charger_cap_w()
        sharing = [e for e in self.evses.values() if e.transaction is not None and e is not evse]
        if cap_w is None or not sharing:
            return own_w
        own = {e.evse_id: self.profiles.limit_w(e.evse_id, now, **self._supply(e)) for e in sharing}
        return share_w(own | {evse_id: own_w}, cap_w)[evse_id]

    def next_limit_change(self, evse_id: int) -> datetime | None:
        """When `offered_w` changes next by the installed schedules (None: not by them)."""
        evse = self.evse(evse_id)
        return self.profiles.next_change(evse_id, self.clock.now(), **self._supply(evse))

    def composite_schedule(
        self, evse_id: int, duration_s: int, unit: RateUnit
    ) -> list[tuple[int, float]]:
        """The composite schedule from now (EVSE 0: the charger as a whole), in `unit`."""
        evse = self.evses.get(evse_id)
        starts = {e.evse_id: e.transaction.started_at for e in self.evses.values() if e.transaction}
        return self.profiles.composite(
            evse_id,
            self.clock.now(),
            duration_s,
            unit,
            transaction_starts=starts,
            **self._supply(evse),
        )

    def _composite_periods(self, evse_id: int, duration_s: int, unit: RateUnit) -> list[dict]:
        """The composite schedule as chargingSchedulePeriod (the same in both versions)."""
        periods = []
        for start_s, limit in self.composite_schedule(evse_id, duration_s, unit):
            period: dict[str, Any] = {"start_period": start_s, "limit": limit}
            if unit == "A" and self.config.current == "AC":
                period["number_phases"] = self.config.phases  # A are per phase on these
            periods.append(period)
        return periods

    def _supply(self, evse: Evse | None) -> dict[str, Any]:
        """What an EVSE's limits are evaluated against: the charger's supply, and where its
        Relative profiles count from (its transaction's start)."""
        transaction = evse.transaction if evse is not None else None
        return {
            **self._charger_supply(),
            "transaction_start": transaction.started_at if transaction else None,
        }

    def _charger_supply(self) -> dict[str, Any]:
        return {
            "rated_w": self.rated_w,
            "voltage_v": self.config.voltage_v,
            "phases": self.config.phases,
            "dc": self.config.current == "DC",
        }

    def _set_charging_profile(self, evse_id: int, profile: ChargingProfile) -> Rejection | None:
        """SetChargingProfile: install, hold the draw within the new limit, tell the load."""
        evse = self.evses.get(evse_id)
        transaction = evse.transaction if evse is not None else None
        rejection = self.profiles.install(
            evse_id,
            profile,
            in_transaction=transaction is not None,
            transaction_id=transaction.transaction_id if transaction else None,
        )
        if rejection is None:
            self._limits_changed(evse_id)
            self.after_reply(self._tell_limit_change(evse_id))
        return rejection

    def _clear_charging_profiles(self, profile_id: int | None = None, **criteria: Any) -> bool:
        """ClearChargingProfile: True if any profile matched (and was removed)."""
        evse_ids = {n for n, p in self.profiles.installed() if p.profile_id == profile_id}
        if profile_id is None and criteria.get("evse_id") is not None:
            evse_ids = {criteria["evse_id"]}
        if not self.profiles.clear(profile_id, **criteria):
            return False
        evse_id = evse_ids.pop() if len(evse_ids) == 1 else 0
        self._limits_changed(evse_id)
        self.after_reply(self._tell_limit_change(evse_id))
        return True

    def _install_for_transaction(self, evse: Evse, profile: ChargingProfile) -> None:
        """The TxProfile that came with a remote start, for the transaction it started."""
        rejection = self.profiles.install(
            evse.evse_id, profile, in_transaction=evse.transaction is not None
        )
        if rejection is not None:
            log.warning("%s: remote start profile refused: %s", self.id, rejection.detail)
            return
        self._limits_changed(evse.evse_id)
        self.spawn(self._tell_limit_change(evse.evse_id))

    def _limits_changed(self, evse_id: int) -> None:
        """A charger holds every draw within its limit at once, whatever the EV does next."""
        evses = list(self.evses.values()) if evse_id == 0 else [self.evse(evse_id)]
        for evse in evses:
            if evse.meter.power_w > 0:
                offered_w = self.offered_w(evse.evse_id)
                if evse.meter.power_w > offered_w:
                    evse.meter.set_power(offered_w)

    def _charger_cap_w(self) -> float | None:
        return self.profiles.charger_cap_w(self.clock.now(), **self._charger_supply())

    def _sharing_changed(self) -> None:
        """A transaction began or ended: under a charger-wide cap every EVSE's share moves."""
        if len(self.evses) > 1 and self._charger_cap_w() is not None:
            self._limits_changed(0)
            self.spawn(self._tell_limit_change(0))

    async def _tell_limit_change(self, evse_id: int) -> None:
        if self.on_limit_change is not None:
            self.on_limit_change(evse_id)

    # -- the driver's display ------------------------------------------------------------------
    def _show(self, kind: DisplayKind, transaction_id: str | None, **details: Any) -> DisplayedCost:
        """Put a price, cost or message on the display, at the clock's time; tell the hook."""
        shown = self.display.show(DisplayedCost(self.clock.now(), kind, transaction_id, **details))
        if self.on_display is not None:
            try:
                self.on_display(shown)
            except Exception:  # the recorder's fault must not change what goes on the wire
                log.exception("%s: on_display hook failed", self.id)
        return shown

    # -- the connection ----------------------------------------------------------------------
    async def _run(self) -> None:
        backoff_s = self.config.reconnect_initial_s
        url = f"{self.config.csms_url.rstrip('/')}/{self.id}"
        while True:
            await self._allowed_online.wait()
            self._connecting = True
            try:
                websocket = await connect(
                    url,
                    subprotocols=[self.subprotocol],
                    compression=None,
                    open_timeout=10,
                    logger=redacted_logger("websockets.client"),
                    **self.config.connect_options(),
                )
            except (OSError, InvalidHandshake, TimeoutError) as error:
                log.info("%s: cannot connect (%s), retrying in %.0f s", self.id, error, backoff_s)
                websocket = None
            finally:
                self._connecting = False
            if websocket is None:
                await self.clock.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, self.config.reconnect_max_s)
                continue
            backoff_s = self.config.reconnect_initial_s
            await self._serve(websocket)

    async def _serve(self, websocket) -> None:
        self._websocket = websocket
        self._connection = (
            TappedConnection(websocket, self.id, self._frame_observer)
            if self._frame_observer
            else websocket
        )
        receiver = asyncio.create_task(self.start())
        await asyncio.sleep(0)  # let the receive loop begin (it creates the `closed` future)
        helpers: list[asyncio.Task] = []
        try:
            if not self._booted:
                await self._boot()
            for evse in self.evses.values():
                await self._announce(evse, force=True)
            self._online.set()  # booted and every connector's status told
            helpers = [
                asyncio.create_task(self._heartbeat_loop()),
                asyncio.create_task(self._pump()),
            ]
            await receiver
        except (ConnectionLost, ConnectionClosed):
            pass
        except (TimeoutError, OCPPError) as error:  # a central system that stopped answering
            log.warning("%s: dropping the connection: %r", self.id, error)
        finally:
            self._online.clear()
            for task in [*helpers, receiver]:
                task.cancel()
            await asyncio.gather(*helpers, receiver, return_exceptions=True)
            await websocket.close()
            log.info("%s: connection closed", self.id)

    async def _boot(self) -> None:
        while True:
            accepted, interval_s = await self._send_boot()
            if accepted:
                self._booted = True
                self.heartbeat_interval_s = interval_s or self.heartbeat_interval_s
                return
            await self.clock.sleep(interval_s or 60)  # Pending / Rejected: try again later

    async def _send_now(self, payload: Any) -> Any | None:
        """Send a message that is worthless later (status, heartbeat): only while connected."""
        try:
            return await self.request(payload)
        except (ConnectionLost, TimeoutError):
            return None
        except OCPPError as error:
            log.warning("%s: %s refused: %s", self.id, type(payload).__name__, error)
            return None

    async def _heartbeat_loop(self) -> None:
        while True:
            await self.clock.sleep(self.heartbeat_interval_s)
            await self._send_now(self._heartbeat_request())

    async def _meter_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.meter_interval_s)
            for evse in self.evses.values():
                if evse.transaction is not None:
                    self._queue_meter_values(evse, evse.transaction)

    # -- the outbox of transaction messages --------------------------------------------------
    def queue(
        self, build: Callable[[], Any], on_reply: Callable[[Any], Awaitable[None]] | None = None
    ) -> asyncio.Future:
        """Queue a transaction message for in-order delivery, now or after a reconnect."""
        return self._outbox.put(build, on_reply)

    async def _pump(self) -> None:
        try:
            await self._outbox.pump(self.request)
        except TimeoutError:  # unanswered: reconnect, the message stays first in line
            log.warning("%s: no answer to a transaction message; reconnecting", self.id)
            await self._websocket.close()

    async def _announce(self, evse: Evse, force: bool = False) -> None:
        status = self._status_of(evse)
        if status == evse.status and not force:
            return
        evse.status = status
        await self._send_now(self._status_request(evse, status))

    def wire_time(self) -> str:
        """The clock's time as OCPP writes it (UTC, milliseconds)."""
        return to_wire_time(self.clock.now())

    # -- what each protocol version provides --------------------------------------------------
    def _new_transaction_id(self) -> str | None:
        raise NotImplementedError

    async def _send_boot(self) -> tuple[bool, int]:
        raise NotImplementedError

    async def _authorize(self, id_token: str) -> bool:
        raise NotImplementedError

    def _heartbeat_request(self) -> Any:
        raise NotImplementedError

    def _triggered_meter_values(self, evse: Evse) -> Any:
        raise NotImplementedError

    def _status_of(self, evse: Evse) -> str:
        raise NotImplementedError

    def _status_request(self, evse: Evse, status: str) -> Any:
        raise NotImplementedError

    def _queue_started(self, evse: Evse, transaction: Transaction) -> None:
        raise NotImplementedError

    def _queue_meter_values(self, evse: Evse, transaction: Transaction) -> None:
        raise NotImplementedError

    def _queue_ended(
        self,
        evse: Evse,
        transaction: Transaction,
        meter_stop_wh: int,
        reason: str,
        signed: SignedMeterValue | None,
    ) -> None:
        raise NotImplementedError
