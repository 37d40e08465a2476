"""What the web catalog reads: the mesh's specs and the catalog database.

Loading the mesh plans every product (seconds on a large mesh), so it happens once, on the
first request (or `warm()`), not when the server starts: `mesh up` starts the catalog beside
the Dagster UI without slowing the UI's start. The catalog tables are brought in step with the
specs then, once; while `mesh up` runs, the platform's `mesh_catalog_sync` sensor keeps them in
step with the specs, the lake and the runs (docs/catalog.md), so a page reads them as they are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesh_platform.catalog import Catalog
    from mesh_platform.loader.mesh import Mesh


@dataclass(frozen=True)
class WebSettings:
    """Where the web catalog reads from and what it links to."""

    mesh_root: Path
    catalog_url: str
    ui_url: str
    # Off for a catalog built elsewhere (the benchmark's generated one): read it as it is.
    sync: bool = True


class CatalogSource:
    """The mesh and the catalog database, loaded (and synced) once, thread-safe."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._loaded: tuple[Catalog, Mesh] | None = None

    def warm(self) -> None:
        """Load the mesh and sync the catalog now (else on the first request)."""
        self.get()

    def get(self) -> tuple[Catalog, Mesh]:
        """The catalog (synced with the specs on the first call) and the mesh."""
        with self._lock:
            if self._loaded is None:
                from mesh_platform.catalog import Catalog
                from mesh_platform.loader.mesh import Mesh

                catalog = Catalog.open(self.settings.catalog_url)
                mesh = Mesh.load_healthy(self.settings.mesh_root)
                if self.settings.sync:
                    from mesh_platform.marketplace import sync_catalog

                    sync_catalog(catalog, mesh)
                self._loaded = (catalog, mesh)
            return self._loaded
