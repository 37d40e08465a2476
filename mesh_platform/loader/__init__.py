"""Loading domains and the mesh: specs read, inputs resolved, products planned.

A domain's code location uses `DomainPlanner` (its own products, other domains through their
published contracts); the CLI's whole-mesh commands use `Mesh`.
"""

from mesh_platform.loader.domain import DomainPlanner, planner_for
from mesh_platform.loader.mesh import Mesh, MeshSpecs, load_mesh

__all__ = ["DomainPlanner", "Mesh", "MeshSpecs", "load_mesh", "planner_for"]
