"""Engines that run a product's steps."""

from mesh_platform.engine.local import LocalEngine, StepPreview

__all__ = ["LocalEngine", "StepPreview"]
