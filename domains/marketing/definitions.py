"""The marketing domain's code location: its gold products, read from products/*.yaml."""

from mesh_platform import load_domain

defs = load_domain(__file__)
