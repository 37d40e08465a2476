"""Errors Mesh reports to the people who write specs and run the mesh."""

from __future__ import annotations

from pathlib import Path


class MeshError(Exception):
    """Base class of every error Mesh raises on purpose."""


class SpecError(MeshError):
    """A data product or domain spec is wrong.

    The message names the file and line, what is wrong and how to fix it, so that a domain
    team can act on it without reading platform code.
    """

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.file = Path(file) if file is not None else None
        self.line = line
        self.problem = message
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file) + (f":{self.line}" if self.line else "") + ": "
        text = f"{where}{self.problem}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class SpecErrors(SpecError):
    """Several spec errors found in one pass, reported together.

    A `SpecError` itself (`except SpecError` catches both): its file, line, problem and fix
    are the first error's; its text is every error's, one after the other.
    """

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = [single for error in errors for single in every_error(error)]
        first = self.errors[0] if self.errors else SpecError("no spec errors")
        super().__init__(first.problem, file=first.file, line=first.line, fix=first.fix)

    def _render(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def every_error(error: SpecError) -> list[SpecError]:
    """The single errors `error` stands for: those of a `SpecErrors`, else `error` itself."""
    return list(error.errors) if isinstance(error, SpecErrors) else [error]


class BusinessLogicError(MeshError):
    """A failure caused by a domain's own logic (SQL, Python step, contract, rule)."""


class PlatformError(MeshError):
    """A failure of the platform (storage, engine, configuration), not the domain's logic."""


class ConfigurationError(PlatformError):
    """A setting of the deployment is wrong; the message names the variable and the fix."""


class StepFailed(BusinessLogicError):
    """A step of the product failed because of the domain's logic (SQL, Python, parameters)."""

    def __init__(self, step: str, kind: str, cause: BaseException) -> None:
        self.step = step
        self.kind = kind
        super().__init__(f"step {step!r} ({kind}) failed: {type(cause).__name__}: {cause}")


class EngineFailure(PlatformError):
    """The engine or its storage failed while running a step (I/O, memory): the platform's."""

    def __init__(self, step: str, kind: str, cause: BaseException) -> None:
        self.step = step
        self.kind = kind
        super().__init__(
            f"step {step!r} ({kind}): the engine failed: {type(cause).__name__}: {cause}"
        )


class MissingUpstream(BusinessLogicError):
    """An input product has no table yet: the consumer's run cannot start until it is built.

    The consuming domain's problem (it runs before its input ever did), not the platform's:
    the message names the input and the command that builds it.
    """

    def __init__(self, product: str, port: str, upstream: str) -> None:
        self.product = product
        self.port = port
        self.upstream = upstream
        super().__init__(
            f"input {port!r} reads {upstream}, which has no table yet (it was never materialized)"
        )
