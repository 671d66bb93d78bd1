"""The project's central system as a stand-alone process for the fleet benchmark.

`CentralSystem` with SQLite in a temporary folder, auto-registration on, no REST API:

    python benchmarks/evch_csms.py --port 9101

Prints `LISTENING <port>` on stdout once it accepts connections, logs WARNING and above to
stderr, and stops cleanly (commits what is queued) on SIGTERM or SIGINT. `--profile FILE`
writes cProfile stats of the event loop thread on exit. SIGUSR1 / SIGUSR2: the harness's
hooks, see baseline_csms.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tempfile
from pathlib import Path

from baseline_csms import install_harness_hooks, run

from central_system.app import CentralSystem
from central_system.config import Settings


async def main(port: int, database_dir: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="evch-bench-", dir=database_dir) as folder:
        settings = Settings(
            database_url=f"sqlite:///{Path(folder) / 'evch.db'}",
            ocpp_port=port,
            auto_register=True,
            heartbeat_interval_s=3600,
        )
        central = CentralSystem(settings)
        await central.start(with_api=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        install_harness_hooks(loop)
        print(f"LISTENING {central.ocpp.port}", flush=True)
        try:
            await stop.wait()
        finally:
            await central.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9101, help="0 picks a free port")
    parser.add_argument("--database-dir", help="where the temporary SQLite folder goes")
    parser.add_argument("--profile", help="write cProfile stats to this file on exit")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run(main(args.port, args.database_dir), args.profile)
