"""The run directory: everything a run did, in files a replay or an analyst can read.

Frames and events are streamed to JSON Lines as they happen (a crash keeps what came before);
tables are written once at the end as Parquet.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import pandas as pd

from ocppj.wire import to_wire_time

RECORDED_PACKAGES = (
    "evch", "ocpp", "websockets", "simpy", "sqlalchemy", "numpy", "pandas", "pyarrow", "pydantic"
)  # fmt: skip


class RunRecorder:
    def __init__(self, out_dir: Path, now: Callable[[], datetime]) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self._now = now
        self._frames: IO[str] = open(out_dir / "ocpp_frames.jsonl", "w", encoding="utf-8")
        self._events: IO[str] = open(out_dir / "events.jsonl", "w", encoding="utf-8")
        self.frame_count = 0

    def frame(self, charger_id: str, direction: str, frame: str) -> None:
        """A frame as the central system saw it: "in" came from the charger, "out" went to it."""
        self.frame_count += 1
        # The frame stays the exact text that crossed the socket, as a JSON string.
        record = {
            "t": to_wire_time(self._now()),
            "charger_id": charger_id,
            "dir": direction,
            "frame": frame,
        }
        self._frames.write(json.dumps(record) + "\n")

    def event(self, kind: str, **fields: Any) -> None:
        record = {"t": to_wire_time(self._now()), "event": kind, **fields}
        self._events.write(json.dumps(record, default=str) + "\n")

    def write_scenario(self, text: str) -> None:
        (self.out_dir / "scenario.toml").write_text(text, encoding="utf-8")

    def write_table(self, name: str, table: pd.DataFrame) -> None:
        table.to_parquet(self.out_dir / name, index=False)

    def write_manifest(self, **fields: Any) -> None:
        manifest = {
            "python": platform.python_version(),
            "packages": {name: _version(name) for name in RECORDED_PACKAGES},
            **fields,
        }
        text = json.dumps(manifest, indent=2, default=str)
        (self.out_dir / "manifest.json").write_text(text + "\n", encoding="utf-8")

    def close(self) -> None:
        self._frames.close()
        self._events.close()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
