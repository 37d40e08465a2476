"""The platform team's code location: ingestion (landing -> bronze -> silver)."""

from mesh_platform import load_domain

defs = load_domain(__file__)
