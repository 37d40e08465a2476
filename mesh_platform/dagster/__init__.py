"""Dagster-facing code: a product as a Component and an asset, a domain as a code location.

Imported only where Dagster runs (code locations, materialization, the operations commands):
the quick CLI commands never import this package.
"""
