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
    """The catalog database (synced with the specs once, on first use) and the mesh, each
    loaded once; thread-safe."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._mesh: Mesh | None = None

    def warm(self) -> None:
        """Load the mesh and sync the catalog now (else on the first request)."""
        self.catalog()

    def catalog(self) -> Catalog:
        """The catalog database, brought in step with the specs on the first call (unless
        the settings say to read it as it is)."""
        with self._lock:
            if self._catalog is None:
                from mesh_platform.catalog import Catalog

                catalog = Catalog.open(self.settings.catalog_url)
                if self.settings.sync:
                    from mesh_platform.marketplace.sync import sync_catalog

                    sync_catalog(catalog, self._load_mesh())
                self._catalog = catalog
            return self._catalog

    def mesh(self) -> Mesh:
        """The mesh's specs, planned (for impact and ODCS documents)."""
        with self._lock:
            return self._load_mesh()

    def _load_mesh(self) -> Mesh:
        if self._mesh is None:
            from mesh_platform.loader.mesh import Mesh

            self._mesh = Mesh.load_healthy(self.settings.mesh_root)
        return self._mesh
