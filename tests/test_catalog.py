"""The catalog database: migrations on SQLite and PostgreSQL, models matching migrations,
unique keys that make notifications idempotent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mesh_platform.catalog import Base, Catalog, OutboxMessage

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _postgres_available() -> bool:
    try:
        with sa.create_engine(f"{POSTGRES}/test").connect():
            return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh catalog database: a SQLite file, or a PostgreSQL database created and dropped."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    if not _postgres_available():
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    name = f"mesh_catalog_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_create_the_models_tables(catalog_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    catalog = Catalog(catalog_url)
    Catalog(catalog_url)  # a second open is a no-op upgrade
    with catalog.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    catalog.engine.dispose()


def test_the_outbox_refuses_a_second_message_with_the_same_key(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)

    def add() -> None:
        with catalog.session() as session:
            session.add(
                OutboxMessage(
                    dedupe_key="k|outbox",
                    channel="outbox",
                    recipient="platform",
                    subject="s",
                    body="b",
                    status="pending",
                    attempts=0,
                )
            )

    add()
    with pytest.raises(IntegrityError):
        add()
    with catalog.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
    catalog.engine.dispose()
