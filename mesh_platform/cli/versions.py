"""A product's versions: history, rollback and release."""

from __future__ import annotations
