"""What the builder refuses: each refusal a `BuilderError` (a `MeshError`) whose message says
what was refused and what to do; the web maps them to 4xx / 409 with that message."""

from __future__ import annotations

from mesh_platform.errors import MeshError


class BuilderError(MeshError):
    """The builder refused an edit, a save or a run; the message says why and what to do."""


class DraftRefused(BuilderError):
    """A draft cannot be opened, created or edited as asked (a bad or taken name, a path
    outside its domain, an unknown domain, a step index out of range, an unknown field)."""


class DraftNotFound(DraftRefused):
    """The product (or domain) a draft was asked to open does not exist."""


class DraftConflict(BuilderError):
    """The file changed on disk since the draft was opened: saving would overwrite it."""


class GitRefused(BuilderError):
    """A commit on a branch was refused (a dirty target, not a repository, a failed git)."""
