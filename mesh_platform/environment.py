"""The one place that decides the environment (local / branch / prod) and builds resources.

Nothing else reads the process environment. Resources are built when a code location loads
its definitions, never at import. Secrets reach resources only as `dg.EnvVar`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import dagster as dg

from mesh_platform.keys import Keyring
from mesh_platform.lakehouse import Lakehouse
from mesh_platform.mesh import repo_root

Environment = Literal["local", "branch", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("local", "branch", "prod")


def current_environment() -> Environment:
    """`MESH_ENV`, `local` when unset."""
    value = os.environ.get("MESH_ENV", "local")
    if value not in ENVIRONMENTS:
        raise ValueError(f"MESH_ENV={value!r}; use one of {', '.join(ENVIRONMENTS)}")
    return value  # type: ignore[return-value]


def mesh_home() -> Path:
    """Where local state lives: `MESH_HOME`, else `var/` in the checkout."""
    return Path(os.environ.get("MESH_HOME") or repo_root() / "var").resolve()


def lake_root() -> str:
    """The lakehouse root: `MESH_LAKE_ROOT` (a folder or object-store URI), else local."""
    return os.environ.get("MESH_LAKE_ROOT") or str(mesh_home() / "lake")


def landing_root() -> str:
    """The landing folder: `MESH_LANDING_ROOT`, else local."""
    return os.environ.get("MESH_LANDING_ROOT") or str(mesh_home() / "landing")


def build_resources() -> dict[str, Any]:
    """The resources every code location gets, for the current environment."""
    environment = current_environment()
    if environment == "prod":
        lakehouse = Lakehouse(
            root=dg.EnvVar("MESH_LAKE_ROOT"), landing_root=dg.EnvVar("MESH_LANDING_ROOT")
        )
    else:
        lakehouse = Lakehouse(root=lake_root(), landing_root=landing_root())
    return {"lakehouse": lakehouse, KEYS_RESOURCE: build_keyring(), "notifier": build_notifier()}


def catalog_url() -> str:
    """The catalog database: `MESH_CATALOG_URL` (e.g. PostgreSQL), else SQLite in MESH_HOME."""
    return os.environ.get("MESH_CATALOG_URL") or f"sqlite:///{mesh_home() / 'catalog.db'}"


def ui_base_url() -> str:
    """The Dagster UI's base URL, for links in notifications: `MESH_UI_URL`."""
    return os.environ.get("MESH_UI_URL", "http://127.0.0.1:3000")


def webhook_url(name: str) -> str | None:
    """The URL of webhook channel `name` (`MESH_WEBHOOK_<NAME>`): a secret, never logged."""
    return os.environ.get("MESH_WEBHOOK_" + name.upper().replace("-", "_").replace(".", "_"))


def build_notifier() -> Any:
    """The notifier resource. Secrets (catalog URL in prod, SMTP password) via `dg.EnvVar`."""
    from mesh_platform.notify import Notifier

    def env(name: str) -> Any:
        return dg.EnvVar(name) if os.environ.get(name) else None

    smtp: dict[str, Any] = {}
    if os.environ.get("MESH_SMTP_HOST"):
        smtp = {
            "smtp_host": os.environ["MESH_SMTP_HOST"],
            "smtp_port": int(os.environ.get("MESH_SMTP_PORT", "25")),
            "smtp_sender": os.environ.get("MESH_SMTP_SENDER", "mesh@localhost"),
            "smtp_user": os.environ.get("MESH_SMTP_USER"),
            "smtp_password": env("MESH_SMTP_PASSWORD"),
            "smtp_starttls": os.environ.get("MESH_SMTP_STARTTLS", "") == "1",
        }
    url: Any = catalog_url()
    if current_environment() == "prod":
        url = dg.EnvVar("MESH_CATALOG_URL")
    return Notifier(catalog_url=url, ui_base_url=ui_base_url(), **smtp)


KEYS_RESOURCE = "keys"
_KEY_PREFIX = "MESH_KEY_"


def build_keyring() -> Keyring:
    """The keys of the security standards, from `MESH_KEY_<ID>` (hex) and `MESH_KEY_CURRENT`.

    Outside prod, with no key configured, a derived dev key (public, deterministic) is used so
    that local runs and tests work; in prod a missing key fails the run that needs it, naming
    the variable to set. Values are never echoed.
    """
    keys: dict[str, bytes] = {}
    for name, value in os.environ.items():
        if not name.startswith(_KEY_PREFIX) or name == f"{_KEY_PREFIX}CURRENT":
            continue
        try:
            keys[name.removeprefix(_KEY_PREFIX).lower()] = bytes.fromhex(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be hex (e.g. `openssl rand -hex 32`)") from None
    current = os.environ.get(f"{_KEY_PREFIX}CURRENT") or (max(keys) if keys else None)
    if not keys and current_environment() != "prod":
        return Keyring.dev()
    return Keyring(keys, current if keys else None)


def dagster_home() -> Path:
    """The Dagster instance folder: `DAGSTER_HOME`, else `<mesh home>/dagster_home`.

    The checkout's dagster.yaml (the embedded default instance) is copied there when missing.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or mesh_home() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text((repo_root() / "dagster.yaml").read_text())
    return home


def export_for_children() -> dict[str, str]:
    """The environment for processes Mesh starts (dagster dev, code servers)."""
    env = dict(os.environ)
    env["MESH_HOME"] = str(mesh_home())
    env["DAGSTER_HOME"] = str(dagster_home())
    return env
