"""The platform team's standards: standard steps, security steps, business rules, sequences,
budgets, the access policy, the search synonyms.

They plug into the platform through one entry point (`register`, declared in pyproject.toml
under `mesh.standards`): the platform never imports this package by name.
"""

from __future__ import annotations

from pathlib import Path

from mesh_platform.registry import Registry
from standards import access_masks, business_rules, security, transforms

SEQUENCES = Path(__file__).parent / "sequences"
BUDGETS = Path(__file__).parent / "budgets"
ACCESS_POLICY = Path(__file__).parent / "access_policy.yaml"
SEARCH_SYNONYMS = Path(__file__).parent / "search_synonyms.yaml"


def register(registry: Registry) -> None:
    """Register every standard step, SQL function, business rule, step sequence and budget."""
    for step in (*security.STEPS, *transforms.STEPS):
        registry.steps.register(step)
    business_rules.register(registry)
    access_masks.register(registry)
    registry.add_sequence_folder(SEQUENCES)
    for budget in sorted(BUDGETS.glob("*.yaml")):
        registry.add_budget_file(budget)
    registry.add_access_policy_file(ACCESS_POLICY)
    registry.add_search_synonyms_file(SEARCH_SYNONYMS)


__all__ = ["ACCESS_POLICY", "BUDGETS", "SEARCH_SYNONYMS", "SEQUENCES", "register"]
