"""The resources and the executor every code location gets, built for the current environment.

Values come from `config/environment.py` when the location loads its definitions, never at
import; in prod the lake, landing and catalog settings are passed as `dg.EnvVar`, so they are
read where the run happens and never shown in the UI. The executor follows the profile
(`MESH_PROFILE`): Dagster's default in the embedded one, dagster-celery's in prod.

Runs and sensors reach the catalog database through the `catalog` resource (its URL is the
location's configuration), never by reading the environment themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from mesh_platform.config import environment
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.notify import Notifier
from mesh_platform.security.keys import build_keyring

if TYPE_CHECKING:
    from mesh_platform.catalog import Catalog

KEYS_RESOURCE = "keys"
CATALOG_RESOURCE = "catalog"
CATALOG_URL_VARIABLE = "MESH_CATALOG_URL"


class CatalogResource(dg.ConfigurableResource):
    """The catalog database (subscriptions, holds and versions, costs, the marketplace), for
    the runs and sensors of a code location."""

    url: str = Field(description="SQLAlchemy URL of the catalog database (MESH_CATALOG_URL).")

    def open(self) -> Catalog:
        """The catalog, one per process and URL (SQLAlchemy is imported here, not when a
        location loads)."""
        from mesh_platform.catalog import Catalog

        return Catalog.open(self.url)


def _catalog_url() -> Any:
    """The catalog URL of the current environment as resource config: `dg.EnvVar` in prod (read
    where the run or sensor runs, never shown in the UI), else the URL itself."""
    return dg.EnvVar(CATALOG_URL_VARIABLE) if environment.is_prod() else environment.catalog_url()


def build_catalog() -> CatalogResource:
    """The `catalog` resource of the current environment."""
    return CatalogResource(url=_catalog_url())


def build_resources(domain: str | None = None) -> dict[str, Any]:
    """`lakehouse`, `keys`, `catalog` and `notifier` for the current environment.

    `domain`: the code location's domain; its lakehouse refuses to write any other domain's
    tables (None: every domain's, for tools that run the whole mesh).
    """
    if environment.is_prod():
        lakehouse = Lakehouse(
            root=dg.EnvVar("MESH_LAKE_ROOT"),
            landing_root=dg.EnvVar("MESH_LANDING_ROOT"),
            domain=domain,
        )
    else:
        lakehouse = Lakehouse(
            root=environment.lake_root(), landing_root=environment.landing_root(), domain=domain
        )
    return {
        "lakehouse": lakehouse,
        KEYS_RESOURCE: build_keyring(),
        CATALOG_RESOURCE: build_catalog(),
        "notifier": build_notifier(),
    }


def build_executor() -> dg.ExecutorDefinition | None:
    """The executor of the current profile: None (Dagster's default: a process per step for
    launched runs) when embedded; in prod, dagster-celery's, which sends each step to the
    Celery workers listening on `MESH_CELERY_QUEUE` through `MESH_CELERY_BROKER`.

    The broker and backend URLs may hold passwords: when set they are passed as the names of
    their variables, read by the run's process, and never shown in the UI.
    """
    if environment.current_profile() != "prod":
        return None
    from dagster_celery import celery_executor

    settings = environment.celery()

    def source(variable: str, value: str) -> str | dict[str, str]:
        return {"env": variable} if environment.is_set(variable) else value

    return celery_executor.configured(
        {
            "broker": source(environment.CELERY_BROKER_VARIABLE, settings.broker),
            "backend": source(environment.CELERY_BACKEND_VARIABLE, settings.backend),
            "config_source": {"task_default_queue": settings.queue},
        }
    )


def build_notifier() -> Notifier:
    """The notifier: catalog, UI links, SMTP and webhook channels of this environment."""
    smtp: dict[str, Any] = {}
    settings = environment.smtp()
    if settings is not None:
        smtp = {
            "smtp_host": settings.host,
            "smtp_port": settings.port,
            "smtp_sender": settings.sender,
            "smtp_user": settings.user,
            "smtp_password": (
                dg.EnvVar(settings.password_variable) if settings.password_variable else None
            ),
            "smtp_starttls": settings.starttls,
        }
    return Notifier(
        catalog_url=_catalog_url(),
        ui_base_url=environment.ui_base_url(),
        webhooks=environment.webhook_urls(),
        **smtp,
    )
