"""Contracts between domains: the ODCS document, impact analysis and the breaking-change check."""

from __future__ import annotations
