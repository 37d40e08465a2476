"""Compiling a product spec: SQL checked against its inputs, the plan, lineage, contracts."""
