"""A domain template hook used by tests: records what the template reports."""

from __future__ import annotations

from typing import Any

EVENTS: list[tuple[str, str, dict[str, Any]]] = []


def record(event: str, spec: Any, facts: dict[str, Any]) -> None:
    EVENTS.append((event, spec.qualified_name, dict(facts)))
