"""The one place that reads the process environment and decides local / branch / prod.

Nothing else reads `os.environ`. Values are read when resources are built (a code location
loading its definitions, a CLI command starting), never at import. Secrets are returned as
variable names for `dg.EnvVar`, or handed to the resource that needs them, never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mesh_platform.errors import ConfigurationError

Environment = Literal["local", "branch", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("local", "branch", "prod")
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


def lake_root() -> str:
    """The lakehouse root: `MESH_LAKE_ROOT` (a folder or object-store URI), else local."""
    return os.environ.get("MESH_LAKE_ROOT") or str(mesh_home() / "lake")


def landing_root() -> str:
    """The landing folder: `MESH_LANDING_ROOT`, else local."""
    return os.environ.get("MESH_LANDING_ROOT") or str(mesh_home() / "landing")


def catalog_url() -> str:
    """The catalog database: `MESH_CATALOG_URL` (e.g. PostgreSQL), else SQLite in MESH_HOME."""
    return os.environ.get("MESH_CATALOG_URL") or f"sqlite:///{mesh_home() / 'catalog.db'}"


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


def instance_template() -> Path:
    """The embedded default instance's dagster.yaml (SQLite, telemetry off, run monitoring)."""
    return Path(__file__).with_name("dagster.yaml")


def dagster_home() -> Path:
    """The Dagster instance folder: `DAGSTER_HOME`, else `<mesh home>/dagster_home`.

    The instance template beside this module (`config/dagster.yaml`: the embedded default
    instance) is copied there when missing.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or mesh_home() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(instance_template().read_text())
    return home


def export_for_children() -> dict[str, str]:
    """The environment for processes Mesh starts (dagster dev, code servers)."""
    env = dict(os.environ)
    env["MESH_HOME"] = str(mesh_home())
    env["DAGSTER_HOME"] = str(dagster_home())
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
