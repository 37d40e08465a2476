"""The marketplace's discover-and-evaluate commands: search, show, contract, impact, diff."""

from __future__ import annotations
