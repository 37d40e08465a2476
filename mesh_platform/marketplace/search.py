"""Ranked search over the catalog's products, with the score's parts to show why.

score = 0.7 relevance + 0.1 consumers + 0.1 quality + 0.1 freshness, each part in [0, 1]
(relevance first: a product named for the words stays above one that mentions them in a
column's description, however popular, good and fresh that one is):

- relevance: the full-text rank (bm25 on SQLite, ts_rank on PostgreSQL) relative to the best
  match of the search (1.0 for it); 1.0 for every product when no word is given;
- consumers: n / (n + 2) for n consumers (other domains' products and approved
  subscriptions): 0 -> 0, 1 -> 0.33, 2 -> 0.5, 8 -> 0.8;
- quality: the quality score / 100 (0.5 for a product with no evaluation yet);
- freshness: 1.0 within its SLA (24 hours when it has none), then SLA / age (0.5 at twice the
  SLA); 0 for a product never materialized.

Internal products are found only by a viewer of their own domain. `unmatched` tells which
words of a search matched no product, with the products whose names are near them.
"""

from __future__ import annotations

import difflib
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text

from mesh_platform.catalog import Catalog
from mesh_platform.marketplace import fulltext
from mesh_platform.marketplace.analysis import concepts
from mesh_platform.marketplace.analysis import words as split_words

WEIGHTS = {"relevance": 0.7, "consumers": 0.1, "quality": 0.1, "freshness": 0.1}
CONSUMERS_HALF = 2.0  # consumers at which that part is 0.5
UNKNOWN_QUALITY = 50.0
DEFAULT_SLA_HOURS = 24.0
# Candidates ranked, by relevance, when no filter narrows the search: a product below them
# would need more than 0.3 of score from the other parts over hundreds of better matches.
CANDIDATES = 500
NEAR_CUTOFF = 0.75  # difflib's similarity for a near name (`custmer` is near `customer`)
VISIBLE = "(p.visibility = 'published' OR p.domain = :viewer)"


@dataclass(frozen=True)
class SearchHit:
    """A product found, its score and the score's parts (each 0-1), with the facts behind."""

    product: str
    description: str
    domain: str
    owners: tuple[str, ...]
    score: float
    relevance: float
    consumers: float
    quality: float
    freshness: float
    consumer_count: int
    quality_score: float | None
    age_hours: float | None
    visibility: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = asdict(self)
        data["owners"] = list(self.owners)
        return data

    def why(self) -> str:
        """The score's parts in words."""
        age = f"updated {self.age_hours:.1f} h ago" if self.age_hours is not None else "never run"
        quality = f"{self.quality_score:.0f}" if self.quality_score is not None else "-"
        return (
            f"relevance {self.relevance:.2f}, consumers {self.consumers:.2f} "
            f"({self.consumer_count}), quality {self.quality:.2f} ({quality}), "
            f"freshness {self.freshness:.2f} ({age})"
        )


def search(
    catalog: Catalog,
    words: str | list[str] | tuple[str, ...],
    *,
    domain: str | None = None,
    tag: str | None = None,
    column: str | None = None,
    owner: str | None = None,
    viewer: str | None = None,
    limit: int = 20,
    now: float | None = None,
) -> list[SearchHit]:
    """Products matching any word of `words` (names, descriptions, column names and
    descriptions, tags; stop words ignored, stems, synonyms: `analysis.concepts`) and all the
    filters, best first; `viewer` is the searching domain (None: published products only)."""
    typed = words if isinstance(words, str) else " ".join(words)
    moment = time.time() if now is None else now
    with catalog.session() as session:
        # Without a filter, only the best matches by relevance can make the first results.
        filtered = domain or tag or column or owner
        best = None if filtered else max(CANDIDATES, int(limit))
        hits, params = fulltext.hits_query(session, concepts(typed), best)
        filters = [VISIBLE]
        params.update(viewer=viewer or "", now=moment, limit=max(int(limit), 0))
        if domain:
            filters.append("p.domain = :domain")
            params["domain"] = domain
        if tag:
            filters.append(
                "EXISTS (SELECT 1 FROM market_tags t WHERE t.product_id = p.id AND t.tag = :tag)"
            )
            params["tag"] = tag
        if column:
            filters.append(
                "EXISTS (SELECT 1 FROM market_columns c WHERE c.product_id = p.id "
                "AND c.name = :column)"
            )
            params["column"] = column.lower()
        if owner:
            filters.append(
                "EXISTS (SELECT 1 FROM market_owners o WHERE o.product_id = p.id "
                "AND o.owner IN (:owner, :team_owner))"
            )
            params.update(owner=owner, team_owner=f"team:{owner}")
        rows = session.execute(text(_ranked(hits, " AND ".join(filters))), params).all()
    return [_hit(row, moment) for row in rows]


def _ranked(hits: str, where: str) -> str:
    """Scores over the narrow ranking index (`ix_market_products_rank`: no product row is read
    for a match), the details only for the products returned."""
    w = WEIGHTS
    sla = f"COALESCE(p.freshness_hours, {DEFAULT_SLA_HOURS}) * 3600.0"
    return f"""
WITH hits AS MATERIALIZED ({hits}),
matched AS (
  SELECT p.id,
    hits.rank / NULLIF(MAX(hits.rank) OVER (), 0) AS relevance,
    CAST(p.consumer_count AS FLOAT) / (p.consumer_count + {CONSUMERS_HALF}) AS consumers,
    COALESCE(p.quality_score, {UNKNOWN_QUALITY}) / 100.0 AS quality,
    CASE
      WHEN p.last_materialized_epoch IS NULL THEN 0.0
      WHEN :now - p.last_materialized_epoch <= {sla} THEN 1.0
      ELSE {sla} / (:now - p.last_materialized_epoch)
    END AS freshness
  FROM hits JOIN market_products p ON p.id = hits.id
  WHERE {where}
),
top AS (
  SELECT matched.*, {w["relevance"]} * COALESCE(relevance, 1.0) + {w["consumers"]} * consumers
    + {w["quality"]} * quality + {w["freshness"]} * freshness AS score
  FROM matched
  ORDER BY score DESC, id
  LIMIT :limit
)
SELECT top.*, p.name, p.description, p.domain, p.owners, p.visibility, p.consumer_count,
  p.quality_score, p.last_materialized_epoch
FROM top JOIN market_products p ON p.id = top.id
ORDER BY top.score DESC, p.name
"""


def _hit(row: Any, now: float) -> SearchHit:
    epoch = row.last_materialized_epoch
    return SearchHit(
        product=row.name,
        description=row.description,
        domain=row.domain,
        owners=tuple(json.loads(row.owners)),
        score=round(float(row.score), 4),
        relevance=round(float(row.relevance if row.relevance is not None else 1.0), 4),
        consumers=round(float(row.consumers), 4),
        quality=round(float(row.quality), 4),
        freshness=round(float(row.freshness), 4),
        consumer_count=int(row.consumer_count),
        quality_score=row.quality_score,
        age_hours=round((now - epoch) / 3600, 2) if epoch is not None else None,
        visibility=row.visibility,
    )


@dataclass(frozen=True)
class Unmatched:
    """The words of a search that matched no product the viewer may see, and the products
    whose names are near them (a typo, another spelling)."""

    words: tuple[str, ...]
    near: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"words": list(self.words), "near": list(self.near)}


def unmatched(
    catalog: Catalog, words: str, *, viewer: str | None = None, near: int = 5
) -> Unmatched:
    """Which words (or synonym phrases) of `words` match no product `viewer` may see, and up
    to `near` products with a name near one of them."""
    missing = []
    with catalog.session() as session:
        for concept in concepts(words):
            ids, params = fulltext.matching_ids_query(session, concept)
            found = session.execute(
                text(
                    f"SELECT 1 FROM ({ids}) AS m JOIN market_products p ON p.id = m.id "
                    f"WHERE {VISIBLE} LIMIT 1"
                ),
                {**params, "viewer": viewer or ""},
            ).first()
            if found is None:
                missing.append(concept.typed)
        if not missing:
            return Unmatched((), ())
        names = session.scalars(
            text(f"SELECT p.name FROM market_products p WHERE {VISIBLE} ORDER BY p.name"),
            {"viewer": viewer or ""},
        ).all()
    return Unmatched(tuple(missing), _near(missing, list(names), near))


def _near(missing: list[str], names: list[str], limit: int) -> tuple[str, ...]:
    """Products with a name word close to a missing word, closest first."""
    by_word: dict[str, list[str]] = {}
    for name in names:
        for word in set(split_words(name)):
            by_word.setdefault(word, []).append(name)
    found: Counter[str] = Counter()
    for typed in missing:
        for part in split_words(typed):
            for close in difflib.get_close_matches(part, list(by_word), n=3, cutoff=NEAR_CUTOFF):
                found.update(by_word[close])
    return tuple(name for name, _ in found.most_common(limit))
