"""Database URLs as the configuration handles them: shown without their password, and the
catalog's database beside the instance's. Pure functions: the environment is read in
`environment.py` only."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from mesh_platform.errors import ConfigurationError

POSTGRES_URL_VARIABLE = "MESH_POSTGRES_URL"


def without_password(url: str) -> str:
    """`url` as it may be shown: its password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def sibling_database(url: str, suffix: str) -> str:
    """`url` with its database name followed by `suffix`, on the same server and options.

    The catalog cannot share the instance's database: both keep an `alembic_version` table.
    """
    parts = urlsplit(url)
    name = parts.path.strip("/")
    if not name:
        raise ConfigurationError(
            f"{POSTGRES_URL_VARIABLE} names no database. Fix: end the URL with the database, "
            "e.g. postgresql+psycopg2://user@host:5432/mesh"
        )
    return urlunsplit(parts._replace(path=f"/{name}{suffix}"))
