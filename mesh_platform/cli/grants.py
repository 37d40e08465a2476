"""The access policy seen from outside: `mesh grants` (SQL GRANT and column masks)."""

from __future__ import annotations
