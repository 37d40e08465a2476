"""The marketplace's discover-and-evaluate commands: search and show."""

from __future__ import annotations
