"""Discover and evaluate: the catalog of published products kept in step with the specs, ODCS
contracts, ranked search, product pages, impact analysis and the breaking-change check."""
