"""The database: an engine, Alembic migrations, and a single writer thread with group commit.

Every OCPP message that changes state must be durable before the charger gets its answer, yet a
commit per message would cap a central system at a few hundred messages a second. The writer
thread takes all operations that queued up while it was committing, runs them in one
transaction and answers all their callers after that commit: durability per message at the cost
of one commit per batch. An operation that fails is isolated by re-running the batch one
operation per transaction, so one bad message never loses another charger's data.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

log = logging.getLogger(__name__)

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
_STOP = object()


def create_db_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the API read while the writer commits; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` to `revision` with the project's Alembic migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


class Database:
    def __init__(self, url: str, *, max_batch: int = 512) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self.in_flight = 0  # operations awaited on the event loop and not yet done

    @property
    def busy(self) -> bool:
        """Whether an operation is running in a thread (a twin must not move time on then)."""
        return self.in_flight > 0

    @property
    def queued_writes(self) -> int:
        """Writes waiting for the writer thread (those in its current batch not included)."""
        return self._queue.qsize()

    @property
    def writing(self) -> bool:
        """Whether the writer thread is running, so that writes get committed."""
        return self._writer is not None and self._writer.is_alive()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="db-writer", daemon=True)
            self._writer.start()

    def close(self) -> None:
        """Commit everything queued so far, then stop the writer and release connections."""
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join()
            self._writer = None
        self.engine.dispose()

    # -- operations ------------------------------------------------------------------------
    async def write(self, operation: Callable[..., T], *args: Any) -> T:
        """Run `operation(session, *args)` in the writer; return once it is committed."""
        if self._writer is None or not self._writer.is_alive():
            raise RuntimeError("the database writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.in_flight += 1
        try:
            self._queue.put((operation, args, future, loop))
            return await future
        finally:
            self.in_flight -= 1

    async def read(self, operation: Callable[..., T], *args: Any) -> T:
        """Run a read-only `operation(session, *args)` on a pool connection, off the loop."""
        self.in_flight += 1
        try:
            return await asyncio.to_thread(self.run, operation, *args)
        finally:
            self.in_flight -= 1

    def run(self, operation: Callable[..., T], *args: Any) -> T:
        """Run `operation(session, *args)` in one transaction in the calling thread."""
        with self._sessions() as session, session.begin():
            return operation(session, *args)

    # -- the writer thread -----------------------------------------------------------------
    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            try:
                outcomes = self._commit(batch)
            except BaseException as error:  # e.g. the database vanished mid-rollback
                log.exception("database writer: batch of %d failed", len(batch))
                outcomes = [(False, error)] * len(batch)
            self._deliver(batch, outcomes)
        self._fail_pending(RuntimeError("the database is closed"))

    def _commit(self, batch: list) -> list[tuple[bool, Any]]:
        with self._sessions() as session:
            try:
                outcomes = [(True, op(session, *args)) for op, args, _f, _l in batch]
                session.commit()
                return outcomes
            except Exception as error:
                session.rollback()
                if len(batch) == 1:
                    return [(False, error)]
        # Isolate the failing operation so the others still commit.
        return [self._commit_alone(item) for item in batch]

    def _commit_alone(self, item) -> tuple[bool, Any]:
        operation, args, _future, _loop = item
        try:
            return True, self.run(operation, *args)
        except Exception as error:  # handed to the caller, who decides what it means
            return False, error

    def _fail_pending(self, error: Exception) -> None:
        """Writes queued after close() get an error instead of waiting forever."""
        leftovers = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                leftovers.append(item)
        self._deliver(leftovers, [(False, error)] * len(leftovers))

    @staticmethod
    def _deliver(batch: list, outcomes: list[tuple[bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for (_op, _args, future, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, pairs)
            except RuntimeError:  # that event loop is closed: nobody is waiting any more
                pass


def _resolve(pairs: list) -> None:
    for future, (ok, value) in pairs:
        if future.done():  # the caller gave up waiting
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
