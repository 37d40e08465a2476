"""Marks: what the catalog was last brought in step with, as a digest per name.

A process compares a mark with the digest of what it has now and skips the work when they
are equal: the Alembic upgrade (`MIGRATIONS_MARK`, digest of the migration scripts) and the
marketplace sync (`marketplace/freshness.py`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import Connection, delete, exc, insert, select

from mesh_platform.catalog.models import CatalogMark, utcnow

MIGRATIONS_MARK = "migrations"


def scripts_digest(folder: Path) -> str:
    """The digest of the migration scripts under `folder` (names and contents): it changes
    when a migration is added, removed or edited."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def read_mark(connection: Connection, name: str) -> str | None:
    """The mark `name`, or None when it was never written (or the table is not there yet:
    then `connection`'s transaction is aborted on PostgreSQL, so read it on its own)."""
    try:
        return connection.scalar(select(CatalogMark.value).where(CatalogMark.name == name))
    except (exc.OperationalError, exc.ProgrammingError) as error:
        if _missing_table(error):
            return None
        raise


def write_mark(connection: Connection, name: str, value: str) -> None:
    """Set the mark `name` to `value`."""
    connection.execute(delete(CatalogMark).where(CatalogMark.name == name))
    connection.execute(insert(CatalogMark).values(name=name, value=value, at=utcnow()))


def _missing_table(error: exc.DBAPIError) -> bool:
    """SQLite's `no such table` or PostgreSQL's undefined_table (42P01: `sqlstate` from
    psycopg 3, `pgcode` from psycopg2)."""
    orig = getattr(error, "orig", None)
    codes = {getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None)}
    return "no such table" in str(orig) or "42P01" in codes
