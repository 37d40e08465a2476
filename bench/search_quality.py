"""Search quality over the evaluation set: natural questions about the demo's published products.

The demo mesh (this checkout's `domains/`) is synced into a fresh catalog (a SQLite file in a
temporary folder, or `--url`, e.g. a PostgreSQL database), nothing materialized; each question
of `tests/search_questions.yaml` is searched as `mesh search` does (no viewer: published
products only), and the rank of its expected product (or of one of its `also` products) is
read. Printed: hit@1 and hit@3 (the share of questions answered at rank 1, in the top 3) and
the MRR (mean of 1/rank, 0 when not in the top 10), then the questions missed at 3.

`tests/test_search_questions.py` runs the same evaluation on both catalogs with a floor.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from mesh_platform.catalog import Catalog
from mesh_platform.loader.mesh import load_healthy
from mesh_platform.marketplace import search, sync_catalog

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "search_questions.yaml"
DEPTH = 10  # results read per question


@dataclass(frozen=True)
class Answer:
    """One question, the products that answer it, and the products found (best first)."""

    question: str
    expected: tuple[str, ...]
    found: tuple[str, ...]

    @property
    def rank(self) -> int | None:
        """The rank (1-based) of the first product that answers, None when not found."""
        for position, product in enumerate(self.found, 1):
            if product in self.expected:
                return position
        return None


@dataclass(frozen=True)
class Quality:
    """hit@1, hit@3 and MRR over the answers."""

    answers: tuple[Answer, ...]

    def hit_at(self, k: int) -> float:
        """The share of questions answered within the first `k` results."""
        hits = [a for a in self.answers if a.rank is not None and a.rank <= k]
        return len(hits) / len(self.answers)

    @property
    def mrr(self) -> float:
        """Mean reciprocal rank (0 for a question whose answer is not found)."""
        return sum(1 / a.rank for a in self.answers if a.rank) / len(self.answers)

    def missed(self, k: int) -> list[Answer]:
        """The questions not answered within the first `k` results."""
        return [a for a in self.answers if a.rank is None or a.rank > k]

    def summary(self) -> str:
        """One line of figures."""
        return (
            f"{len(self.answers)} questions: hit@1 {self.hit_at(1):.0%}  hit@3 "
            f"{self.hit_at(3):.0%}  MRR {self.mrr:.3f}"
        )


def questions(path: Path = QUESTIONS) -> list[tuple[str, tuple[str, ...]]]:
    """The evaluation set: (question, products that answer it)."""
    data = yaml.safe_load(path.read_text())
    return [(q["q"], (q["expected"], *q.get("also", ()))) for q in data["questions"]]


def demo_catalog(url: str) -> Catalog:
    """A catalog at `url` synced with this checkout's mesh (nothing materialized)."""
    catalog = Catalog(url)
    sync_catalog(catalog, load_healthy(ROOT))
    return catalog


def evaluate(catalog: Catalog, path: Path = QUESTIONS) -> Quality:
    """Every question searched in `catalog`, as `mesh search QUESTION` does."""
    answers = [
        Answer(q, expected, tuple(h.product for h in search(catalog, q, limit=DEPTH)))
        for q, expected in questions(path)
    ]
    return Quality(tuple(answers))


def main() -> None:
    """Sync the demo into a catalog, evaluate, print the figures and the misses."""
    parser = argparse.ArgumentParser(prog="python -m bench.search_quality", description=__doc__)
    parser.add_argument("--url", help="catalog URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        catalog = demo_catalog(args.url or f"sqlite:///{Path(folder) / 'catalog.db'}")
        quality = evaluate(catalog)
        catalog.engine.dispose()
    print(f"search quality ({catalog.engine.dialect.name}), {quality.summary()}")
    for answer in quality.missed(3):
        rank = answer.rank or "-"
        print(
            f"  missed: {answer.question!r} -> {answer.expected[0]} at {rank}; top 3: "
            f"{', '.join(answer.found[:3]) or 'nothing'}"
        )


if __name__ == "__main__":
    main()
