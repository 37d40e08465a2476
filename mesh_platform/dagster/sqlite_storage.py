"""The embedded instance's storage: Dagster's SQLite storage with its connections kept open.

Dagster's SQLite storages make a new SQLAlchemy engine, and so a new SQLite connection, for
every statement they run, and close it after (`NullPool`). Closing the last connection to a
database in WAL mode checkpoints it and deletes its log, and each commit waits for the disk
(`synchronous=FULL`): storing one materialization took 8-11 ms, most of it that. Here each
database keeps one engine whose pool keeps its connections open, and commits wait for the disk
only at checkpoints (`synchronous=NORMAL`, which SQLite recommends with WAL: a committed event
survives the process; only a power cut can lose the last ones, and never corrupts the file).
Storing a materialization takes 1.5-2.5 ms.

The tables, files and migrations are Dagster's own: a `dagster.yaml` that names Dagster's
`sqlite` storage opens the same history. The instance template (`dagster.yaml`) names this one;
the production profile stores in PostgreSQL.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from watchdog.events import FileSystemEvent, PatternMatchingEventHandler

# The run databases whose engines a process keeps (a run writes to one; the UI reads a few).
RUN_ENGINES_KEPT = 8

_ALL_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_after_fork() -> None:
    """A forked child must not use its parent's open connections: it opens its own."""
    for engine in list(_ALL_ENGINES):
        engine.dispose(close=False)


def _close_all() -> None:
    """At the process's end: each database checkpointed and its write-ahead log removed, as
    Dagster's storage leaves them (the `.db` files alone hold every event)."""
    for engine in list(_ALL_ENGINES):
        engine.dispose()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(_close_all)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def kept_engine(url: str) -> Engine:
    """An engine for the SQLite database at `url` whose pool keeps its connections open."""
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )
    event.listen(engine, "connect", _on_connect)
    _ALL_ENGINES.add(engine)
    return engine


class Engines:
    """One kept engine per database URL; past `kept` URLs, the least recently used is closed."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> Engine:
        with self._lock:
            engine = self._engines.pop(url, None) or kept_engine(url)
            self._engines[url] = engine
            while len(self._engines) > self._kept:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, connection.begin():
        yield connection


class KeptSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, each shard's connections kept open."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._shard_engines = Engines(RUN_ENGINES_KEPT + 1)  # + the index shard
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:  # type: ignore[override]
        with self._db_lock:
            engine = self._shard_engines.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with _transaction(engine) as connection:
                yield connection

    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        """As Dagster's, but a write seen in the run's write-ahead log counts: with the
        connections kept open, new events reach the `.db` file only at a checkpoint."""
        from watchdog.observers import Observer

        observer: Any = self._obs
        if not observer:
            observer = self._obs = Observer()  # type: ignore[assignment]
            observer.start()
        watchdog = _LogWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (
            watchdog,
            observer.schedule(watchdog, self._base_dir, recursive=True),
        )

    def dispose(self) -> None:
        super().dispose()
        self._shard_engines.dispose()


class _LogWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watchdog of a run's events, woken by its database or its write-ahead log."""

    def __init__(self, storage: SqliteEventLogStorage, run_id: str, callback: Any,
                 cursor: str | None) -> None:
        super().__init__(storage, run_id, callback, cursor)
        PatternMatchingEventHandler.__init__(
            self, patterns=[self._log_path, f"{self._log_path}-wal"]
        )

    def on_modified(self, event: FileSystemEvent) -> None:
        self._process_log()


class _KeptConnections:
    """`connect` of a storage of one database (Dagster's `_conn_string`): its engine kept."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(conn_string, inst_data)  # type: ignore[call-arg]
        self._kept = kept_engine(conn_string)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with _transaction(self._kept) as connection:
            yield connection

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._kept.dispose()


class KeptSqliteRunStorage(_KeptConnections, SqliteRunStorage):
    """Dagster's SQLite run storage, its connections kept open."""


class KeptSqliteScheduleStorage(_KeptConnections, SqliteScheduleStorage):
    """Dagster's SQLite schedule storage, its connections kept open."""


class KeptSqliteStorage(DagsterSqliteStorage):
    """`storage: custom` in the embedded instance's dagster.yaml, configured as Dagster's
    `sqlite` storage (`base_dir`): the same files, connections kept open."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.base_dir = base_dir
        self._run_storage = KeptSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = KeptSqliteScheduleStorage.from_local(
            _schedule_directory(base_dir)
        )
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: dict[str, str]
    ) -> KeptSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
