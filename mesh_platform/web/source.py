"""What the web catalog reads: the mesh's specs and the catalog database, kept in step.

Loading the mesh plans every product (seconds on a large mesh), so it happens once, on the
first request (or `warm()`), not when the server starts: `mesh up` starts the catalog beside
the Dagster UI without slowing the UI's start. The catalog tables are brought in step with the
specs then, and again when a page is asked for more than `resync_seconds` after the last sync
(materializations and quality results land while the mesh runs).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesh_platform.catalog import Catalog
    from mesh_platform.loader.mesh import Mesh

RESYNC_SECONDS = 30.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebSettings:
    """Where the web catalog reads from and what it links to."""

    mesh_root: Path
    catalog_url: str
    ui_url: str
    resync_seconds: float = RESYNC_SECONDS
    # Off for a catalog built elsewhere (the benchmark's generated one): read it as it is.
    sync: bool = True


class CatalogSource:
    """The mesh and the catalog database, loaded once and synced when stale (thread-safe)."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._mesh: Mesh | None = None
        self._catalog: Catalog | None = None
        self._synced_at = 0.0
        self._syncing = False

    def warm(self) -> None:
        """Load the mesh and sync the catalog now (else on the first request)."""
        self.get()

    def get(self) -> tuple[Catalog, Mesh]:
        """The catalog (in step with the specs) and the mesh. The first call loads and syncs;
        later calls start a sync in the background when the last one is stale and answer
        from the tables as they are."""
        with self._lock:
            if self._catalog is None or self._mesh is None:
                from mesh_platform.catalog import Catalog
                from mesh_platform.loader.mesh import Mesh

                catalog = Catalog.open(self.settings.catalog_url)
                mesh = Mesh.load_healthy(self.settings.mesh_root)
                if self.settings.sync:
                    self._sync(catalog, mesh)
                self._catalog, self._mesh = catalog, mesh
            elif self.settings.sync and self._stale() and not self._syncing:
                self._syncing = True
                threading.Thread(
                    target=self._sync_in_background,
                    args=(self._catalog, self._mesh),
                    name="mesh-catalog-sync",
                    daemon=True,
                ).start()
            return self._catalog, self._mesh

    def _stale(self) -> bool:
        return time.monotonic() - self._synced_at > self.settings.resync_seconds

    def _sync(self, catalog: Catalog, mesh: Mesh) -> None:
        from mesh_platform.marketplace import sync_catalog

        sync_catalog(catalog, mesh)
        self._synced_at = time.monotonic()

    def _sync_in_background(self, catalog: Catalog, mesh: Mesh) -> None:
        try:
            self._sync(catalog, mesh)
        except Exception:  # the pages keep serving the last sync; the next request retries
            log.warning("web catalog: syncing the catalog failed", exc_info=True)
            self._synced_at = time.monotonic()
        finally:
            self._syncing = False
