"""The web catalog: a small server-rendered app next to the Dagster UI (search, product pages,
impact, ODCS documents, subscriptions)."""
