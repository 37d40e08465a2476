"""The platform team's standards: standard steps, security steps, business rules, sequences.

Importing this package registers every standard step with `mesh_platform.steps.REGISTRY`.
"""

from standards import business_rules, security, transforms

__all__ = ["business_rules", "security", "transforms"]
