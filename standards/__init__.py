"""The platform team's standards: standard steps (and later rules, UDFs, templates).

Importing this package registers every standard step with `mesh_platform.steps.REGISTRY`.
"""

from standards import transforms

__all__ = ["transforms"]
