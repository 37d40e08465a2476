"""Alembic environment of the catalog: runs on the connection `Catalog` hands it."""

from alembic import context
from sqlalchemy import create_engine

from mesh_platform.catalog.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Online migrations on the given connection, or on `sqlalchemy.url`."""
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url") or ""
        with create_engine(url).begin() as connection:
            context.configure(connection=connection, target_metadata=target_metadata)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata)
    context.run_migrations()


run()
