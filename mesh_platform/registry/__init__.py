"""The platform's registries: standard steps, SQL functions and step sequences.

Standards packages register into them through the `mesh.standards` entry point (see `core`).
"""

from mesh_platform.registry.core import ENTRY_POINT_GROUP, Registry, RuleSetInfo, registry
from mesh_platform.registry.functions import RESERVED, FunctionRegistry, SqlFunction
from mesh_platform.registry.steps import StandardStepDefinition, StepRegistry, check_params

__all__ = [
    "ENTRY_POINT_GROUP",
    "RESERVED",
    "FunctionRegistry",
    "Registry",
    "RuleSetInfo",
    "SqlFunction",
    "StandardStepDefinition",
    "StepRegistry",
    "check_params",
    "registry",
]
