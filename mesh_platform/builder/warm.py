"""What a warm process (the web server) keeps between the builder's previews, when it is safe.

- the engine of each engine name, with its database and the catalogue's functions (built once;
  each preview gets its own cursor, as every run does);
- each input's Arrow dataset, keyed by its table's Delta version: a table changes only when a
  run materializes it, which commits a new version, so a new version is read again;
- a draft's plan and its nodes' column plans, keyed by the draft's text and the modification
  times of the spec files it was planned against (the domain's, and the inputs' of other
  domains), so an edited spec on disk is planned again;
- small step results (`results.py`), keyed by the domain, the planned steps up to the step and
  the inputs' Delta versions, in an LRU within a byte budget: the next node, or the same node
  after an edit of a later step, starts from them.

The subscription check is not kept: it is asked of the catalog on every preview, as a run asks.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesh_platform.builder.results import Results
from mesh_platform.compile.plan import ColumnPlan, ProductPlan
from mesh_platform.spec.workspace import Key, domain_folder

if TYPE_CHECKING:
    from mesh_platform.access.scope import Scopes
    from mesh_platform.builder.planning import PlannedDraft
    from mesh_platform.engine import Engine
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.security.keys import Keyring
    from mesh_platform.spec.model import ProductSpec

PLANS_KEPT = 32


class Warm:
    """The engine, datasets and plans kept by one process for one lake and keyring."""

    def __init__(self, lakehouse: Lakehouse, keys: Keyring, catalog_url: str) -> None:
        self.lakehouse = lakehouse
        self.keys = keys
        self.catalog_url = catalog_url
        self._lock = threading.Lock()
        self._engines: dict[str | None, Engine] = {}
        self._datasets: dict[Key, tuple[int, Any]] = {}
        self._plans: OrderedDict[tuple[Any, ...], PlannedDraft] = OrderedDict()
        self._prefixes: dict[tuple[int, int], tuple[ColumnPlan, ...]] = {}
        self.results = Results()  # small step results by plan prefix and input versions

    def engine(self, name: str | None) -> Engine:
        """The engine `name` (the default when None), built once."""
        from mesh_platform.engine import get_engine

        with self._lock:
            found = self._engines.get(name)
            if found is None:
                found = self._engines[name] = get_engine(name, keys=self.keys)
            return found

    def dataset(self, key: Key) -> Any:
        """The product's current table as an Arrow dataset, read again at a new version."""
        return self.versioned(key)[1]

    def versioned(self, key: Key) -> tuple[int, Any]:
        """The product's current Delta version and its table as an Arrow dataset."""
        table = self.lakehouse._table(key)  # one open of the Delta log gives the version too
        version = table.version()
        with self._lock:
            kept = self._datasets.get(key)
            if kept is not None and kept[0] == version:
                return kept
        data = self.lakehouse.as_dataset(table)
        with self._lock:
            self._datasets[key] = (version, data)
        return version, data

    def planned(
        self,
        root: Path,
        domain: str,
        name: str,
        text: str,
        plan: Callable[[Path, str, str, str], PlannedDraft],
    ) -> PlannedDraft:
        """The draft planned (kept while its text and the specs it reads are unchanged)."""
        key = (root, domain, name, text, _stamp(root, domain, text))
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
                return found
        found = plan(root, domain, name, text)
        with self._lock:
            self._plans[key] = found
            while len(self._plans) > PLANS_KEPT:
                _, dropped = self._plans.popitem(last=False)
                self._prefixes = {k: v for k, v in self._prefixes.items() if k[0] != id(dropped)}
        return found

    def prefix_columns(
        self,
        planned: PlannedDraft,
        steps: int,
        plan: Callable[[PlannedDraft, int], ProductPlan],
    ) -> tuple[ColumnPlan, ...]:
        """The columns after the draft's first `steps` steps (tags, formulas), planned once."""
        key = (id(planned), steps)
        with self._lock:
            found = self._prefixes.get(key)
        if found is None:
            if steps == len(planned.plan.steps) and not planned.source.spec.columns:
                found = planned.plan.columns
            else:
                try:
                    found = plan(planned, steps).columns
                except Exception:  # a step valid only with the contract after it: no lineage
                    found = ()
            with self._lock:
                self._prefixes[key] = found
        return found

    def access(self, spec: ProductSpec, root: Path) -> Scopes:
        """The subscription check a run makes (`require_access`, the approvals file of the
        mesh's root applied once before refusing); asked every time."""
        from mesh_platform.access.enforcement import require_access
        from mesh_platform.access.seeding import apply_approvals_file
        from mesh_platform.catalog import Catalog

        return require_access(
            spec,
            catalog=lambda: Catalog.open(self.catalog_url),
            approvals=functools.partial(apply_approvals_file, root=root),
        )


def _stamp(root: Path, domain: str, text: str) -> tuple[tuple[str, int], ...]:
    """Modification times of the spec files a draft is planned against: its domain's files,
    and the product files of other domains (a draft's cross-domain inputs live there)."""
    found = []
    for folder in {domain_folder(root, domain), *_other_domains(root, domain, text)}:
        for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("products/*")):
            try:
                found.append((str(path), path.stat().st_mtime_ns))
            except OSError:
                continue
    return tuple(sorted(found))


def _other_domains(root: Path, domain: str, text: str) -> set[Path]:
    """The folders of the other domains the draft's text names (`<domain>.<product>`)."""
    base = domain_folder(root, domain).parent
    named = set()
    for folder in base.iterdir() if base.is_dir() else ():
        if folder.name != domain and f"{folder.name}." in text:
            named.add(folder)
    return named


_WARM: dict[tuple[str, str, str], Warm] = {}
_WARM_LOCK = threading.Lock()


def warm() -> Warm:
    """This process's `Warm` for the configured lake, landing zone, keys and catalog."""
    from mesh_platform.config import environment
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.security.keys import build_keyring

    key = (environment.lake_root(), environment.landing_root(), environment.catalog_url())
    with _WARM_LOCK:
        found = _WARM.get(key)
        if found is None:
            lakehouse = Lakehouse(root=key[0], landing_root=key[1])
            found = _WARM[key] = Warm(lakehouse, build_keyring(), key[2])
        return found
