"""Development tools: preview, product tests, scaffolding and sample data."""
