"""The one place that reads the process environment and decides local / branch / prod.

Nothing else reads `os.environ`. Values are read when resources are built (a code location
loading its definitions, a CLI command starting), never at import. Secrets are returned as
variable names for `dg.EnvVar`, or handed to the resource that needs them, never logged.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from mesh_platform.config.instance_files import rendered, settings
from mesh_platform.config.urls import POSTGRES_URL_VARIABLE, sibling_database, without_password
from mesh_platform.errors import ConfigurationError

Environment = Literal["local", "branch", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("local", "branch", "prod")
Profile = Literal["embedded", "prod"]
PROFILES: tuple[Profile, ...] = ("embedded", "prod")
CELERY_BROKER_VARIABLE = "MESH_CELERY_BROKER"
CELERY_BACKEND_VARIABLE = "MESH_CELERY_BACKEND"
DEFAULT_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/mesh"
# dagster-postgres 0.29 sends `NOTIFY run_events, $1`, which PostgreSQL refuses from psycopg 3
# (server-side parameters): its storage works only through psycopg2.
POSTGRES_DRIVER = "postgresql+psycopg2"
DEFAULT_CELERY_BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
DEFAULT_CELERY_BACKEND = "rpc://"
DEFAULT_CELERY_QUEUE = "dagster"
# Broker URL schemes and the Python module each transport needs (kombu's transports).
_BROKER_MODULES = {
    "amqp": "amqp",
    "pyamqp": "amqp",
    "amqps": "amqp",
    "redis": "redis",
    "rediss": "redis",
    "sqs": "boto3",
}
KEY_PREFIX = "MESH_KEY_"
WEBHOOK_PREFIX = "MESH_WEBHOOK_"


def _checkout() -> Path:
    return Path(__file__).resolve().parents[2]


def current_environment() -> Environment:
    """`MESH_ENV`, `local` when unset."""
    value = os.environ.get("MESH_ENV", "local")
    if value not in ENVIRONMENTS:
        raise ConfigurationError(
            f"MESH_ENV={value!r} is not an environment. Fix: set MESH_ENV to one of "
            f"{', '.join(ENVIRONMENTS)} (unset means local)"
        )
    return value  # type: ignore[return-value]


def is_prod() -> bool:
    """Whether this is the production environment (settings only through `dg.EnvVar`)."""
    return current_environment() == "prod"


def mesh_home() -> Path:
    """Where local state lives: `MESH_HOME`, else `var/` in the checkout."""
    return Path(os.environ.get("MESH_HOME") or _checkout() / "var").resolve()


def answer_settings() -> tuple[tuple[str, str], ...]:
    """The `MESH_*` settings (names and values, secrets' prefixes left out) that what a
    read-only command answers may depend on: part of `config/sources.py`'s digest."""
    return tuple(
        sorted(
            (name, value)
            for name, value in os.environ.items()
            if name.startswith("MESH_") and not name.startswith((KEY_PREFIX, WEBHOOK_PREFIX))
        )
    )


def lake_root() -> str:
    """The lakehouse root: `MESH_LAKE_ROOT` (a folder or object-store URI), else local."""
    return os.environ.get("MESH_LAKE_ROOT") or str(mesh_home() / "lake")


def landing_root() -> str:
    """The landing folder: `MESH_LANDING_ROOT`, else local."""
    return os.environ.get("MESH_LANDING_ROOT") or str(mesh_home() / "landing")


def catalog_url() -> str:
    """The catalog database: `MESH_CATALOG_URL` (e.g. PostgreSQL), else SQLite in MESH_HOME;
    in the prod profile, else the database `<instance database>_catalog` beside the instance's.
    """
    explicit = os.environ.get("MESH_CATALOG_URL")
    if explicit:
        return explicit
    if current_profile() == "prod":
        return sibling_database(postgres_url(), "_catalog")
    return f"sqlite:///{mesh_home() / 'catalog.db'}"


def current_profile() -> Profile:
    """`MESH_PROFILE`: `embedded` (unset: SQLite instance and catalog, Dagster's default
    executor, no service needed) or `prod` (instance and catalog on PostgreSQL, steps on
    Celery workers)."""
    value = os.environ.get("MESH_PROFILE") or "embedded"
    if value not in PROFILES:
        raise ConfigurationError(
            f"MESH_PROFILE={value!r} is not a profile. Fix: set MESH_PROFILE to one of "
            f"{', '.join(PROFILES)} (unset means embedded)"
        )
    return value  # type: ignore[return-value]


def postgres_url() -> str:
    """The prod profile's Dagster instance database (run, event-log and schedule storage):
    `MESH_POSTGRES_URL`, else the database `mesh` of the local PostgreSQL."""
    url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    scheme = urlsplit(url).scheme
    if scheme != POSTGRES_DRIVER:
        fixed = urlunsplit(urlsplit(url)._replace(scheme=POSTGRES_DRIVER))
        raise ConfigurationError(
            f"{POSTGRES_URL_VARIABLE} starts with {scheme}://: Dagster's PostgreSQL storage "
            f"needs the psycopg2 driver. Fix: start the URL with {POSTGRES_DRIVER}:// "
            f"(e.g. {without_password(fixed)})"
        )
    return url


@dataclass(frozen=True)
class CeleryEnvironment:
    """Where the prod profile's executor sends steps and its workers take them from.

    `broker` and `backend` may carry passwords: the executor names their variables
    (`MESH_CELERY_BROKER`, `MESH_CELERY_BACKEND`) when they are set, never the values.
    """

    broker: str
    backend: str
    queue: str


def celery() -> CeleryEnvironment:
    """The Celery settings: `MESH_CELERY_BROKER` (default: the local RabbitMQ),
    `MESH_CELERY_BACKEND` (default `rpc://`) and `MESH_CELERY_QUEUE` (default `dagster`)."""
    broker = os.environ.get(CELERY_BROKER_VARIABLE) or DEFAULT_CELERY_BROKER
    scheme = urlsplit(broker).scheme.split("+")[0]
    module = _BROKER_MODULES.get(scheme)
    if module is None:
        raise ConfigurationError(
            f"{CELERY_BROKER_VARIABLE} has the scheme {scheme!r}, not a Celery broker. Fix: use "
            f"one of {', '.join(sorted(_BROKER_MODULES))}, e.g. {DEFAULT_CELERY_BROKER} "
            "(RabbitMQ) or redis://127.0.0.1:6379/0"
        )
    if importlib.util.find_spec(module) is None:
        extra = "sqs" if module == "boto3" else module
        raise ConfigurationError(
            f"{CELERY_BROKER_VARIABLE} is a {scheme} broker, whose client `{module}` is not "
            f"installed. Fix: install it (`pip install 'celery[{extra}]'`) or use RabbitMQ "
            f"({DEFAULT_CELERY_BROKER})"
        )
    return CeleryEnvironment(
        broker=broker,
        backend=os.environ.get(CELERY_BACKEND_VARIABLE) or DEFAULT_CELERY_BACKEND,
        queue=os.environ.get("MESH_CELERY_QUEUE") or DEFAULT_CELERY_QUEUE,
    )


def ui_base_url() -> str:
    """The Dagster UI's base URL, for links in notifications: `MESH_UI_URL`."""
    return os.environ.get("MESH_UI_URL", "http://127.0.0.1:3000")


def catalog_web_url() -> str:
    """The web catalog's base URL, for links from Dagster assets: `MESH_CATALOG_WEB_URL`
    (`mesh up` sets it to where it serves the catalog)."""
    return os.environ.get("MESH_CATALOG_WEB_URL", "http://127.0.0.1:3001").rstrip("/")


def is_set(name: str) -> bool:
    """Whether the variable `name` is set (to pass it on as `dg.EnvVar(name)`)."""
    return bool(os.environ.get(name))


def webhook_urls() -> dict[str, str]:
    """Webhook channel name (lowercase, `_` for `-` and `.`) -> its URL (`MESH_WEBHOOK_<NAME>`).

    The URLs are secrets: they go to the notifier resource and are never logged.
    """
    return {
        name.removeprefix(WEBHOOK_PREFIX).lower(): value
        for name, value in os.environ.items()
        if name.startswith(WEBHOOK_PREFIX) and value
    }


@dataclass(frozen=True)
class SmtpEnvironment:
    """Where email goes out (`MESH_SMTP_*`); the password stays a variable name."""

    host: str
    port: int
    sender: str
    user: str | None
    password_variable: str | None
    starttls: bool


def smtp() -> SmtpEnvironment | None:
    """The SMTP settings, None when `MESH_SMTP_HOST` is unset (email off)."""
    host = os.environ.get("MESH_SMTP_HOST")
    if not host:
        return None
    return SmtpEnvironment(
        host=host,
        port=int(os.environ.get("MESH_SMTP_PORT", "25")),
        sender=os.environ.get("MESH_SMTP_SENDER", "mesh@localhost"),
        user=os.environ.get("MESH_SMTP_USER"),
        password_variable="MESH_SMTP_PASSWORD" if is_set("MESH_SMTP_PASSWORD") else None,
        starttls=os.environ.get("MESH_SMTP_STARTTLS", "") == "1",
    )


def key_material() -> tuple[dict[str, bytes], str | None]:
    """The keys of the security standards: `MESH_KEY_<ID>` (hex) and `MESH_KEY_CURRENT`."""
    keys: dict[str, bytes] = {}
    for name, value in os.environ.items():
        if not name.startswith(KEY_PREFIX) or name == f"{KEY_PREFIX}CURRENT":
            continue
        try:
            keys[name.removeprefix(KEY_PREFIX).lower()] = bytes.fromhex(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be hex (e.g. `openssl rand -hex 32`)") from None
    return keys, os.environ.get(f"{KEY_PREFIX}CURRENT")


def instance_template(profile: Profile | None = None) -> Path:
    """The dagster.yaml of `profile` (default: the current one): `dagster.yaml` for the
    embedded instance (SQLite), `dagster-prod.yaml` for the prod one (PostgreSQL through
    `MESH_POSTGRES_URL`); both with telemetry off and run monitoring. They live at the
    checkout's top level; a package installed without the checkout carries them beside this
    module (`pyproject.toml`, force-include)."""
    name = {"embedded": "dagster.yaml", "prod": "dagster-prod.yaml"}[profile or current_profile()]
    top_level = _checkout() / name
    return top_level if top_level.is_file() else Path(__file__).with_name(name)


def dagster_home() -> Path:
    """The Dagster instance folder: `DAGSTER_HOME`, else `<mesh home>/dagster_home`.

    The current profile's instance template (`instance_template`) is copied there when it
    has none, or when it has another profile's template with its settings unchanged
    (switching `MESH_PROFILE` switches the instance); a dagster.yaml written by hand is left
    as it is.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or mesh_home() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = instance_config(home)
    current = config.read_text() if config.exists() else None
    # A copy is a template's when its settings are (its comments may be an older version's,
    # its folder another one's: a home moved elsewhere is pointed at where it is now).
    templates = {settings(instance_template(p).read_text()) for p in PROFILES}
    if current is None or (current != wanted and settings(current) in templates):
        config.write_text(wanted)
    return home


def instance_config(home: Path, profile: Profile | None = None) -> str:
    """The dagster.yaml of the Dagster home `home` on `profile`: its template, naming `home`."""
    return rendered(instance_template(profile).read_text(), home)


def export_for_children() -> dict[str, str]:
    """The environment for processes Mesh starts (dagster dev, code servers)."""
    env = dict(os.environ)
    env["MESH_HOME"] = str(mesh_home())
    env["DAGSTER_HOME"] = str(dagster_home())
    if current_profile() == "prod":
        # The instance's dagster.yaml reads the database from the variable; the defaults are
        # made explicit so that every process (daemon, run, Celery worker) sees the same ones.
        env[POSTGRES_URL_VARIABLE] = postgres_url()
        env["MESH_CATALOG_URL"] = catalog_url()
    return env


def _positive_float(name: str, default: float, fix: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigurationError(
            f"{name}={raw!r} is not a non-negative number. Fix: set {name} to {fix}, or unset "
            f"it for the default {default}"
        )
    return value


def cost_rates() -> tuple[float, float]:
    """Compute units per core-hour (`MESH_COST_UNITS_PER_CORE_HOUR`, default 1.0) and dollars
    per unit (`MESH_COST_DOLLARS_PER_UNIT`, default 0.55: an assumed on-demand price of one
    core-hour, to be set to the deployment's real price).
    """
    return (
        _positive_float(
            "MESH_COST_UNITS_PER_CORE_HOUR", 1.0, "the units one core busy for an hour costs"
        ),
        _positive_float("MESH_COST_DOLLARS_PER_UNIT", 0.55, "the price of one unit in dollars"),
    )


def engine_settings() -> tuple[str | None, str]:
    """The deployment's engine settings: the engine of products that name none (`MESH_ENGINE`;
    None when unset, for the platform's default `local`) and the Spark master
    (`MESH_SPARK_MASTER`: `local[*]` when unset, `spark://host:7077` for a standalone cluster,
    `sc://host:15002` for Spark Connect or Databricks Connect)."""
    return os.environ.get("MESH_ENGINE") or None, os.environ.get("MESH_SPARK_MASTER") or "local[*]"


def local_engine_memory() -> str:
    """The local engine's memory before it spills (`MESH_DUCKDB_MEMORY_LIMIT`, default 2GB)."""
    value = (os.environ.get("MESH_DUCKDB_MEMORY_LIMIT") or "2GB").strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|%)", value, re.IGNORECASE):
        raise ConfigurationError(
            f"MESH_DUCKDB_MEMORY_LIMIT={value!r} is not an amount of "
            "memory. Fix: write it as DuckDB does, e.g. 2GB, 512MB or 50%"
        )
    return value


def duckdb_spill_folder() -> str:
    """Where DuckDB spills what exceeds its memory limit (the temporary folder's
    `mesh-duckdb-spill`)."""
    import tempfile

    return f"{tempfile.gettempdir()}/mesh-duckdb-spill"


def python_sandbox() -> bool:
    """Whether Python steps run in the sandbox (docs/access.md): `MESH_SANDBOX` is `on` (the
    default) or `off`, for a development machine without Landlock only: the steps then run in
    the calling process, with the lake, the landing files and the network in reach."""
    value = (os.environ.get("MESH_SANDBOX") or "on").strip().lower()
    if value not in ("on", "off"):
        raise ConfigurationError(
            f"MESH_SANDBOX={value!r} is not a sandbox setting. Fix: unset it (the sandbox is "
            "on), or set MESH_SANDBOX=off on a development machine without Landlock"
        )
    return value == "on"


IDENTITY_HEADER = "X-Forwarded-Email"  # what an authenticating proxy (oauth2-proxy) sets


def acting_email() -> str | None:
    """Who runs this command, for decisions (docs/access.md): `MESH_USER_EMAIL` (a service
    account, a CI job), else `git config user.email` in the current folder; None when neither
    says."""
    explicit = (os.environ.get("MESH_USER_EMAIL") or "").strip()
    if explicit:
        return explicit.lower()
    import subprocess

    try:
        found = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return found.lower() or None


def trusted_identity_header() -> str | None:
    """The request header naming the person on the web catalog, set by an authenticating proxy
    in front of it: `MESH_IDENTITY_HEADER`, else `X-Forwarded-Email` in the prod profile; None
    (the catalog acts as `acting_email()`, the person who started it) otherwise. Honour it only
    behind a proxy that strips the header from what clients send."""
    explicit = (os.environ.get("MESH_IDENTITY_HEADER") or "").strip()
    if explicit:
        return explicit
    return IDENTITY_HEADER if current_profile() == "prod" else None
