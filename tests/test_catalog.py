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

    # Every package that declares catalog tables, so that all models are in `Base.metadata`.
    import mesh_platform.access.models
    import mesh_platform.marketplace.models
    import mesh_platform.run.version_records  # noqa: F401

    catalog = Catalog(catalog_url)
    Catalog(catalog_url)  # a second open is a no-op upgrade
    def modelled(obj: object, name: str | None, type_: str, *_: object) -> bool:
        # The full-text index (FTS5 virtual table and its shadow tables, or PostgreSQL's
        # tsvector table) is raw DDL of the marketplace migration, not a model.
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
        return not str(table).startswith("market_search")

    with catalog.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": modelled})
        diff = compare_metadata(context, Base.metadata)
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
