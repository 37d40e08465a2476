"""Python steps at load: the step's module is imported (in the sandbox) and must define its
function.

A module that fails at import would fail every run; importing it at load (in `mesh validate`
and in the code location alike) turns that into an error on the author's screen, with the
step's line in the spec and the module's own file and line.
"""

from __future__ import annotations

import importlib
import importlib.util
import traceback
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from mesh_platform.errors import SpecError
from mesh_platform.sandbox import domain_code, paths

if TYPE_CHECKING:
    from mesh_platform.spec.loading import ProductSource
    from mesh_platform.spec.model import PythonStep


def check_step_module(source: ProductSource, index: int, name: str, step: PythonStep) -> None:
    """Raise a SpecError (the step's line, the module's file and line, a fix) unless the
    step's module imports and defines its function. The module is imported in the sandbox
    (`sandbox/domain_code.py`), in this process only with `MESH_SANDBOX=off`."""
    module_name, _, function = step.python.partition(":")
    if domain_code.enabled():
        defined = _sandboxed(source, index, name, module_name, function)
    else:
        defined = callable(getattr(_import(source, index, name, module_name), function, None))
    if not defined:
        raise source.error(
            f"python step: {module_name!r} has no function {function!r}",
            "steps",
            index,
            "python",
            fix="define the function or fix its name",
        )


def _sandboxed(
    source: ProductSource, index: int, name: str, module_name: str, function: str
) -> bool:
    try:
        return domain_code.check_function(module_name, function)
    except ModuleNotFoundError as exc:  # not located: the module or a package of it is missing
        error = _cannot_import(source, index, module_name, exc)
    except domain_code.DomainCodeFailed as exc:
        failure = exc.failure
        missing = failure.missing if failure.type == "ModuleNotFoundError" else None
        if missing is not None and _names_the_module(missing, module_name):
            error = _cannot_import(source, index, module_name, failure.message)
        else:
            file, line = _failure_where(failure, module_name)
            what = f"{failure.type}: {(failure.syntax or {}).get('msg') or failure.message}"
            if failure.refused:
                what = (
                    f"it tried to {failure.refused} (refused: step modules are imported in a "
                    "sandbox that cannot read the lake, the landing files or the network)"
                )
            error = _does_not_import(source, index, name, module_name, what, file, line)
    raise error from None


def _import(source: ProductSource, index: int, name: str, module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _names_the_module(exc.name, module_name):
            file, line = _where(exc, module_name)
            error = _does_not_import(source, index, name, module_name, _what(exc), file, line)
        else:  # the step's module itself (or its package) is not there
            error = _cannot_import(source, index, module_name, exc)
    except Exception as exc:  # anything the module raises while it is imported
        file, line = _where(exc, module_name)
        error = _does_not_import(source, index, name, module_name, _what(exc), file, line)
    raise error from None


def _cannot_import(
    source: ProductSource, index: int, module_name: str, exc: Exception | str
) -> SpecError:
    return source.error(
        f"python step cannot import {module_name!r}: {exc}",
        "steps",
        index,
        "python",
        fix="check the module path; domain code lives in domains/<domain>/",
    )


def _names_the_module(missing: str, module_name: str) -> bool:
    """Whether a missing module `missing` is `module_name` or one of its packages."""
    return module_name == missing or module_name.startswith(f"{missing}.")


def _does_not_import(
    source: ProductSource,
    index: int,
    name: str,
    module_name: str,
    what: str,
    file: Path | None,
    line: int | None,
) -> SpecError:
    where = f"{file}:{line}" if line else str(file or module_name)
    return source.error(
        f"python step {name!r}: module {module_name!r} does not import: {what} ({where})",
        "steps",
        index,
        "python",
        fix=f"fix {where}; `python -c 'import {module_name}'` shows the traceback",
    )


def _what(exc: Exception) -> str:
    text = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)
    return f"{type(exc).__name__}: {text}"


def _where(exc: Exception, module_name: str) -> tuple[Path | None, int | None]:
    """The file and line of the module that failed: a syntax error's own, else the deepest
    line of the step's module in the traceback (else of the deepest file the import ran)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return Path(exc.filename), exc.lineno
    frames = [
        (Path(frame.f_code.co_filename).resolve(), number)
        for frame, number in traceback.walk_tb(exc.__traceback__)
        if not frame.f_code.co_filename.startswith("<")  # <frozen importlib._bootstrap>
    ]
    return _pick(frames, _origin(module_name), {Path(__file__).resolve()})


def _failure_where(
    failure: domain_code.Failure, module_name: str
) -> tuple[Path | None, int | None]:
    """`_where` for a failure in the sandbox (its frames, as the child reported them)."""
    syntax = failure.syntax or {}
    if syntax.get("filename"):
        line = syntax.get("lineno")
        return Path(str(syntax["filename"])), line if isinstance(line, int) else None
    frames = [(Path(file).resolve(), number) for file, number in failure.frames]
    sandbox = Path(domain_code.__file__).resolve().parent
    machinery = {f for f, _ in frames if f.parent == sandbox}
    return _pick(frames, _origin(module_name, imported=False), machinery)


def _pick(
    frames: list[tuple[Path, int]], origin: Path | None, machinery: set[Path]
) -> tuple[Path | None, int | None]:
    own = [f for f in frames if f[0] == origin]
    if own:
        return own[-1]
    machinery = machinery | {Path(importlib.__file__ or "").resolve()}
    ran = [f for f in frames if f[0] not in machinery]
    return ran[-1] if ran else (origin, None)


def _origin(module_name: str, imported: bool = True) -> Path | None:
    """The file of a module that did not import (its packages did; `imported`: else located
    without importing anything)."""
    try:
        if not imported:
            parts = paths.locate(module_name)
            origin = parts[-1].origin if parts else None
            return Path(origin).resolve() if origin else None
        spec = importlib.util.find_spec(module_name)
    except Exception:  # a package of it does not import either
        return None
    return Path(spec.origin).resolve() if spec is not None and spec.origin else None
