"""The `evch` command as a user runs it, in a process of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

EVCH = (sys.executable, "-c", "from evch.cli import app; app()")  # `evch`, from this checkout


@asynccontextmanager
async def evch(*args: str, ready: str) -> AsyncIterator[list[str]]:
    """`evch ARGS`, once it prints a line starting with `ready`: what it printed so far.
    Stopped with Ctrl-C at the end, which must exit cleanly."""
    process = await asyncio.create_subprocess_exec(
        *EVCH,
        *args,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"COLUMNS": "200"},
    )
    printed: list[str] = []
    try:
        async with asyncio.timeout(120):  # the first run may build the programs
            while not printed or not printed[-1].startswith(ready):
                line = await process.stderr.readline()
                assert line, f"evch {args[0]} exited early:\n{''.join(printed)}"
                printed.append(line.decode())
        yield printed
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
