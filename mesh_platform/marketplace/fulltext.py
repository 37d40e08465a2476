"""The full-text index of products: SQLite FTS5, or PostgreSQL's `tsvector` with a GIN index.

Both index the same five fields, weighted alike: the product's name (domain and product
words), its description, its column names, its columns' descriptions, and its tags, each as
the tokens of `analysis.tokens` (stems, stop words left out), so both engines hold the same
tokens (FTS5's `unicode61` tokenizer and PostgreSQL's `simple` configuration only split them).

A question matches a product when ANY of its concepts does (`analysis.concepts`); the
database's own ranking orders them (FTS5 `bm25`, PostgreSQL `ts_rank`) over one query made of:

- each concept's stems as whole words and as prefixes (`cust` finds `customer`): a whole word
  counts twice (as a word and as a prefix), a prefix alone once;
- its synonyms (a phrase synonym as a phrase);
- each pair of neighbouring concepts as a phrase, in either order (`revenue per customer`
  finds `customer_revenue`): a boost for words found together as they were typed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from mesh_platform.marketplace.analysis import Concept, indexed

# bm25 weights of (name, description, columns, column_text, tags): a word in the name says
# most about what a product is; one in a column's description least.
FTS5_WEIGHTS = (10.0, 4.0, 3.0, 1.0, 3.0)
# PostgreSQL's four weight classes, as ts_rank takes them {D, C, B, A}: name A, description
# and tags B, column names C, column descriptions D (in the proportions of FTS5_WEIGHTS).
PG_WEIGHTS = "{0.1, 0.3, 0.4, 1.0}"
PREFIX_MIN = 3  # a shorter word is matched whole only (`l` is not a prefix of everything)


@dataclass(frozen=True)
class Document:
    """What the index holds of one product."""

    product_id: int
    name: str
    description: str
    columns: str
    column_text: str
    tags: str


def dialect(session: Session) -> str:
    """`postgresql` or `sqlite` (the catalog's two databases)."""
    return session.get_bind().dialect.name


def remove(session: Session, product_ids: Sequence[int]) -> None:
    """Drop products from the index (PostgreSQL's rows also go with their product)."""
    if not product_ids:
        return
    table = "market_search_pg" if dialect(session) == "postgresql" else "market_search"
    key = "id" if table == "market_search_pg" else "rowid"
    for chunk in _chunks(list(product_ids), 500):
        marks = ", ".join(str(int(i)) for i in chunk)
        session.execute(text(f"DELETE FROM {table} WHERE {key} IN ({marks})"))


def index(session: Session, documents: Sequence[Document]) -> None:
    """Index products (each replaces its earlier document)."""
    if not documents:
        return
    remove(session, [d.product_id for d in documents])
    rows = [
        {
            "id": d.product_id,
            "name": indexed(d.name),
            "description": indexed(d.description),
            "columns": indexed(d.columns),
            "column_text": indexed(d.column_text),
            "tags": indexed(d.tags),
        }
        for d in documents
    ]
    if dialect(session) == "postgresql":
        session.execute(
            text(
                "INSERT INTO market_search_pg (id, document) VALUES (:id, "
                "setweight(to_tsvector('simple', :name), 'A') || "
                "setweight(to_tsvector('simple', :description), 'B') || "
                "setweight(to_tsvector('simple', :tags), 'B') || "
                "setweight(to_tsvector('simple', :columns), 'C') || "
                "setweight(to_tsvector('simple', :column_text), 'D'))"
            ),
            rows,
        )
    else:
        session.execute(
            text(
                "INSERT INTO market_search (rowid, name, description, columns, column_text, "
                "tags) VALUES (:id, :name, :description, :columns, :column_text, :tags)"
            ),
            rows,
        )


def hits_query(
    session: Session, found: Sequence[Concept], best: int | None = None
) -> tuple[str, dict[str, object]]:
    """A query of `(id, rank)` rows, one per product matching any of the concepts (a larger
    rank is a better match), only the `best` ranks when given, and its parameters; every
    product, rank 1, without concepts."""
    if not found:
        return "SELECT id, 1.0 AS rank FROM market_products", {}
    if dialect(session) == "postgresql":
        query, params = _pg_hits(found)
    else:
        weights = ", ".join(str(w) for w in FTS5_WEIGHTS)
        query, params = (
            f"SELECT rowid AS id, -bm25(market_search, {weights}) AS rank FROM market_search "
            "WHERE market_search MATCH :fts",
            {"fts": " OR ".join(_fts5_items(found))},
        )
    if best is not None:
        query += f" ORDER BY rank DESC LIMIT {int(best)}"
    return query, params


def _pg_hits(found: Sequence[Concept]) -> tuple[str, dict[str, object]]:
    """`ts_rank` of the whole query, plus that of each neighbouring pair found as a phrase
    (`ts_rank` itself scores the words of a phrase wherever they are)."""
    params: dict[str, object] = {"fts": " | ".join(_tsquery_items(found))}
    boosts = []
    for number, pair in enumerate(_pairs(found)):
        params[f"pair{number}"] = " <-> ".join(pair)
        phrase = f"to_tsquery('simple', :pair{number})"
        boosts.append(
            f" + CASE WHEN s.document @@ {phrase} "
            f"THEN ts_rank('{PG_WEIGHTS}', s.document, {phrase}) ELSE 0 END"
        )
    return (
        f"SELECT s.id AS id, ts_rank('{PG_WEIGHTS}', s.document, q.query){''.join(boosts)} "
        "AS rank FROM market_search_pg s, to_tsquery('simple', :fts) AS q(query) "
        "WHERE s.document @@ q.query",
        params,
    )


def matching_ids_query(session: Session, concept: Concept) -> tuple[str, dict[str, object]]:
    """A query of the `id`s of the products one concept matches."""
    query, params = hits_query(session, [concept])
    return f"SELECT id FROM ({query}) AS one", params


def _phrases(found: Sequence[Concept]) -> list[tuple[str, ...]]:
    """Every alternative of every concept, then each neighbouring pair, in both orders
    (`revenue per customer` finds `customer_revenue` as a phrase too)."""
    phrases = [a for c in found for a in c.alternatives]
    return list(dict.fromkeys([*phrases, *_pairs(found)]))


def _pairs(found: Sequence[Concept]) -> list[tuple[str, ...]]:
    """Each neighbouring pair of concepts as a phrase, in both orders."""
    pairs = [
        pair
        for left, right in itertools.pairwise(found)
        for pair in ((*left.stems, *right.stems), (*right.stems, *left.stems))
    ]
    return list(dict.fromkeys(pairs))


def _fts5_items(found: Sequence[Concept]) -> list[str]:
    items = []
    for phrase in _phrases(found):
        items.append('"' + " ".join(phrase) + '"')
        if len(phrase) == 1 and len(phrase[0]) >= PREFIX_MIN:
            items.append(f'"{phrase[0]}"*')
    return items


def _tsquery_items(found: Sequence[Concept]) -> list[str]:
    items = []
    for phrase in _phrases(found):
        items.append("(" + " <-> ".join(phrase) + ")")
        if len(phrase) == 1 and len(phrase[0]) >= PREFIX_MIN:
            items.append(f"{phrase[0]}:*")
    return items


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
