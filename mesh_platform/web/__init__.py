"""The web catalog: a small server-rendered app next to the Dagster UI (search, product pages,
impact, ODCS documents, subscriptions)."""

from mesh_platform.web.app import create_app
from mesh_platform.web.server import CatalogServer
from mesh_platform.web.source import CatalogSource, WebSettings

__all__ = ["CatalogServer", "CatalogSource", "WebSettings", "create_app"]
