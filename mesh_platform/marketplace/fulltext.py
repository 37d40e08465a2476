"""The full-text index of products: SQLite FTS5, or PostgreSQL's `tsvector` with a GIN index.

Both index the same five fields, weighted alike: the product's name (domain and product
words), its description, its column names, its columns' descriptions, and its tags. Both stem
English words (`revenues` finds `revenue`) and match the words typed as prefixes (`cust`
finds `customer`); every word must match. `_` and `.` separate words, so `customer_revenue`
is found by `revenue`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

# bm25 weights of (name, description, columns, column_text, tags): a word in the name says
# most about what a product is; one in a column's description least.
FTS5_WEIGHTS = (10.0, 4.0, 3.0, 1.0, 3.0)
# PostgreSQL has four weight classes: name A, description and tags B, column names C,
# column descriptions D (ts_rank's defaults: A 1.0, B 0.4, C 0.2, D 0.1).
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Document:
    """What the index holds of one product."""

    product_id: int
    name: str
    description: str
    columns: str
    column_text: str
    tags: str


def words(text_: str) -> list[str]:
    """The words of a search (or an indexed text): letters and digits, `_` splits words."""
    return [w for w in _WORD.findall(text_.replace("_", " ").lower()) if w]


def _spaced(value: str) -> str:
    return " ".join(words(value))


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
            "name": _spaced(d.name),
            "description": d.description,
            "columns": _spaced(d.columns),
            "column_text": d.column_text,
            "tags": _spaced(d.tags),
        }
        for d in documents
    ]
    if dialect(session) == "postgresql":
        session.execute(
            text(
                "INSERT INTO market_search_pg (id, document) VALUES (:id, "
                "setweight(to_tsvector('english', :name), 'A') || "
                "setweight(to_tsvector('english', :description), 'B') || "
                "setweight(to_tsvector('english', :tags), 'B') || "
                "setweight(to_tsvector('english', :columns), 'C') || "
                "setweight(to_tsvector('english', :column_text), 'D'))"
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


def hits_query(session: Session, typed: str) -> tuple[str, dict[str, object]]:
    """A query of `(id, rank)` rows, one per product matching every word of `typed` (a
    larger rank is a better match), and its parameters; every product, rank 1, when `typed`
    has no word."""
    terms = words(typed)
    if not terms:
        return "SELECT id, 1.0 AS rank FROM market_products", {}
    if dialect(session) == "postgresql":
        query = " & ".join(f"{term}:*" for term in terms)
        return (
            "SELECT s.id AS id, ts_rank(s.document, q.query) AS rank FROM market_search_pg s, "
            "to_tsquery('english', :fts) AS q(query) WHERE s.document @@ q.query",
            {"fts": query},
        )
    query = " AND ".join(f'"{term}"*' for term in terms)
    weights = ", ".join(str(w) for w in FTS5_WEIGHTS)
    return (
        f"SELECT rowid AS id, -bm25(market_search, {weights}) AS rank FROM market_search "
        "WHERE market_search MATCH :fts",
        {"fts": query},
    )


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
