"""Opening the catalog database and bringing its schema to the latest migration.

An outage (server down or unreachable, database locked, read-only) is reported as one
`CatalogUnavailable` naming the database (password hidden) and what to check, within a
bounded wait (`CONNECT_TIMEOUT_SECONDS`), instead of a raw driver error after minutes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from mesh_platform.catalog.marks import MIGRATIONS_MARK, read_mark, scripts_digest, write_mark
from mesh_platform.errors import PlatformError

MIGRATIONS = Path(__file__).parent / "migrations"
# How long a connection attempt, or a wait for another writer's lock, may take before the
# catalog is reported unavailable. Long enough for a busy server or a concurrent writer (our
# transactions are short), short enough that a sensor tick or `mesh status` fails clearly.
CONNECT_TIMEOUT_SECONDS = 10
# PostgreSQL's SQLSTATE codes that mean "the database cannot take writes right now".
_PG_READ_ONLY = "25006"  # read_only_sql_transaction (a replica, default_transaction_read_only)
_PG_LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired


class CatalogUnavailable(PlatformError):
    """The catalog database could not be reached or written; the message says what to check."""

    def __init__(self, url: str, reason: str, hint: str) -> None:
        self.url = url  # already without its password
        self.reason = reason
        self.hint = hint
        super().__init__(f"the catalog database {url} is unavailable: {reason}\n  check: {hint}")


def safe_url(url: str) -> str:
    """The URL as it may be shown: its password replaced by `***`."""
    if url.startswith("sqlite"):
        return url  # a file path, no credentials (and SQLAlchemy would escape `file:` URIs)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparsable catalog URL>"  # it might hold a password we cannot locate


def unavailable(url: str, error: BaseException) -> CatalogUnavailable:
    """Translate a driver error into the message an operator can act on."""
    orig = getattr(error, "orig", None) or error
    text = " ".join(str(orig).split())[:300] or type(orig).__name__
    lowered = text.lower()
    sqlstate = getattr(orig, "sqlstate", None)
    sqlite = url.startswith("sqlite")
    where = "the file's permissions, free disk space" if sqlite else "the server's logs"
    if sqlstate == _PG_LOCK_NOT_AVAILABLE or "locked" in lowered or "lock timeout" in lowered:
        hint = (
            f"another process holds a lock on it for more than {CONNECT_TIMEOUT_SECONDS} s "
            "(a long transaction, a migration, a backup); find and end it"
        )
    elif sqlstate == _PG_READ_ONLY or "readonly" in lowered or "read-only" in lowered:
        hint = (
            "it accepts no writes: the file or its folder is read-only or mounted read-only"
            if sqlite
            else "it accepts no writes: MESH_CATALOG_URL must point at the primary, not a "
            "replica, and default_transaction_read_only must be off"
        )
    elif "timeout" in lowered or "timed out" in lowered:
        hint = (
            f"no answer within {CONNECT_TIMEOUT_SECONDS} s: that the host and port in "
            "MESH_CATALOG_URL are right, the server is up and not overloaded, and no firewall "
            "drops the connection"
        )
    elif sqlite and isinstance(orig, (FileExistsError, NotADirectoryError)):
        hint = (
            "a part of the path in MESH_CATALOG_URL is a file, not a folder: point it at a "
            "file in a folder (the catalog creates missing folders)"
        )
    elif sqlite:
        hint = f"that the path in MESH_CATALOG_URL exists and is writable; {where}"
    else:
        hint = (
            "that the server is running and reachable from this host (host, port, firewall), "
            f"that MESH_CATALOG_URL names an existing database and a valid user; {where}"
        )
    return CatalogUnavailable(safe_url(url), text, hint)


def _is_outage(error: BaseException) -> bool:
    """A connection, lock or read-only failure (not a bug in a query, nor a unique key)."""
    if isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)):
        return True
    orig = getattr(error, "orig", None)
    return isinstance(error, exc.InternalError) and (
        getattr(orig, "sqlstate", None) == _PG_READ_ONLY
    )


class Catalog:
    """The catalog database at `url`, migrated to the latest schema on first open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            _migrate(self.engine, url)
        except Exception as error:
            self.engine.dispose()
            if _is_outage(error):
                raise unavailable(url, error) from error
            raise

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error.

        Raises `CatalogUnavailable` when the database cannot be reached or written.
        """
        try:
            with self._sessions() as session, session.begin():
                yield session
        except Exception as error:
            if not _is_outage(error):
                raise
            # Pooled connections may be the problem (opened while the database was read-only,
            # or to a server that has since failed over): the next use opens new ones.
            self.engine.dispose()
            raise unavailable(self.url, error) from error

    @staticmethod
    @functools.lru_cache(maxsize=8)
    def open(url: str) -> Catalog:
        """The catalog at `url`, one per process (engines pool their connections).

        A database that cannot be opened raises `CatalogUnavailable` and is not remembered:
        the next call tries again.
        """
        return Catalog(url)


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # a file where a folder must be, no permission
                raise unavailable(url, error) from error
        # Sensors and CLI may write at once: wait for the lock, but not indefinitely.
        engine = create_engine(url, connect_args={"timeout": CONNECT_TIMEOUT_SECONDS})

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")

        return engine
    connect_args: dict[str, Any] = {}
    if make_url(url).get_backend_name() == "postgresql":
        query = make_url(url).query
        # Bounded waits: libpq's default is to wait for TCP (minutes on a dropped packet) and
        # for locks forever. Settings in the URL itself win.
        if "connect_timeout" not in query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        if "options" not in query:
            connect_args["options"] = f"-c lock_timeout={CONNECT_TIMEOUT_SECONDS}s"
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _migrate(engine: Engine, url: str) -> None:
    """`alembic upgrade heads` on this database (idempotent), unless the database's
    `migrations` mark says these very scripts were applied: then Alembic is not even imported
    (a command opening the catalog pays one query, not the scripts' load and check).

    `heads`: independent features' tables are sibling branches of the migration graph.
    """
    digest = scripts_digest(MIGRATIONS)
    with engine.connect() as connection:
        if read_mark(connection, MIGRATIONS_MARK) == digest:
            return
    _upgrade(engine, url, digest)


def _upgrade(engine: Engine, url: str, digest: str) -> None:
    """`alembic upgrade heads`, then the mark of the scripts applied, in one transaction."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Processes opening a fresh catalog at once (sensors, workers, the CLI) migrate one
            # after another, not into each other's half-created tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(745201)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
        write_mark(connection, MIGRATIONS_MARK, digest)
