"""The reference point of the fleet benchmark: a plain CSMS on the `ocpp` library.

Both subprotocols, fixed answers, no persistence, no project code: what the issue calls "a
plain ocpp-library CSMS". Schema validation stays on, as the library ships it
(`ocpp.messages.ASYNC_VALIDATION` is True: each validation runs in the default thread pool);
`--sync-validation` validates on the event loop instead.

    python benchmarks/baseline_csms.py --port 9100

Prints `LISTENING <port>` on stdout once it accepts connections (the harness reads it), and
stops cleanly on SIGTERM or SIGINT. `--profile FILE` writes cProfile stats of the event loop
thread on exit. The harness's hooks (`install_harness_hooks`, shared with evch_csms.py):
SIGUSR1 prints `GC {json}` on stdout, the time spent in cyclic garbage collection so far;
SIGUSR2 runs `gc.collect(); gc.freeze()` (an experiment, off unless asked for).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import resource
import signal
import sys
import time
from datetime import UTC, datetime

import ocpp.messages
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePointV16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePointV201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

log = logging.getLogger("baseline_csms")
HEARTBEAT_INTERVAL_S = 3600


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CentralV16(ChargePointV16):
    @on(Action16.boot_notification)
    async def on_boot(self, charge_point_vendor, charge_point_model, **_):
        return result16.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL_S, status="Accepted"
        )

    @on(Action16.heartbeat)
    async def on_heartbeat(self):
        return result16.Heartbeat(current_time=now())

    @on(Action16.status_notification)
    async def on_status(self, connector_id, error_code, status, **_):
        return result16.StatusNotification()

    @on(Action16.authorize)
    async def on_authorize(self, id_tag):
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action16.meter_values)
    async def on_meter_values(self, connector_id, meter_value, **_):
        return result16.MeterValues()

    @on(Action16.start_transaction)
    async def on_start(self, connector_id, id_tag, meter_start, timestamp, **_):
        return result16.StartTransaction(transaction_id=1, id_tag_info={"status": "Accepted"})

    @on(Action16.stop_transaction)
    async def on_stop(self, meter_stop, timestamp, transaction_id, **_):
        return result16.StopTransaction()


class CentralV201(ChargePointV201):
    @on(Action201.boot_notification)
    async def on_boot(self, charging_station, reason, **_):
        return result201.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL_S, status="Accepted"
        )

    @on(Action201.heartbeat)
    async def on_heartbeat(self, **_):
        return result201.Heartbeat(current_time=now())

    @on(Action201.status_notification)
    async def on_status(self, timestamp, connector_status, evse_id, connector_id, **_):
        return result201.StatusNotification()

    @on(Action201.authorize)
    async def on_authorize(self, id_token, **_):
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on(Action201.meter_values)
    async def on_meter_values(self, evse_id, meter_value, **_):
        return result201.MeterValues()

    @on(Action201.transaction_event)
    async def on_transaction_event(
        self, event_type, timestamp, trigger_reason, seq_no, transaction_info, **_
    ):
        return result201.TransactionEvent()


CENTRALS = {"ocpp1.6": CentralV16, "ocpp2.0.1": CentralV201}


async def on_connect(websocket: ServerConnection) -> None:
    charger_id = websocket.request.path.rstrip("/").rsplit("/", 1)[-1]
    central = CENTRALS.get(websocket.subprotocol)
    if central is None:
        await websocket.close(1002, "no supported subprotocol")
        return
    try:
        await central(charger_id, websocket).start()
    except ConnectionClosed:
        pass


async def main(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    install_harness_hooks(loop)
    async with serve(
        on_connect,
        "127.0.0.1",
        port,
        subprotocols=["ocpp2.0.1", "ocpp1.6"],
        compression=None,
        ping_interval=60,
        ping_timeout=60,
    ) as server:
        print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
        await stop.wait()


class GcClock:
    """Wall time spent in the cyclic garbage collector, per generation."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.seconds[generation] += time.perf_counter() - self._started
            self.collections[generation] += 1

    def report(self) -> None:
        snapshot = {
            "seconds": self.seconds,
            "collections": self.collections,
            "frozen": gc.get_freeze_count(),
        }
        print(f"GC {json.dumps(snapshot)}", flush=True)


def freeze() -> None:
    gc.collect()
    gc.freeze()
    print(
        f"harness asked for gc.freeze(): {gc.get_freeze_count()} objects frozen",
        file=sys.stderr,
        flush=True,
    )


def install_harness_hooks(loop: asyncio.AbstractEventLoop) -> None:
    clock = GcClock()
    loop.add_signal_handler(signal.SIGUSR1, clock.report)
    loop.add_signal_handler(signal.SIGUSR2, freeze)


def run(main_coroutine, profile: str | None) -> None:
    """asyncio.run, under cProfile when asked (the event loop thread only)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if profile is None:
        asyncio.run(main_coroutine)
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(main_coroutine)
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port")
    parser.add_argument(
        "--sync-validation",
        action="store_true",
        help="validate schemas on the event loop, not in the thread pool",
    )
    parser.add_argument("--profile", help="write cProfile stats to this file on exit")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.sync_validation:
        ocpp.messages.ASYNC_VALIDATION = False
    run(main(args.port), args.profile)
