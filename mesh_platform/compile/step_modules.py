"""Python steps at load: the step's module is imported and must define its function.

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

if TYPE_CHECKING:
    from mesh_platform.spec.loading import ProductSource
    from mesh_platform.spec.model import PythonStep


def check_step_module(source: ProductSource, index: int, name: str, step: PythonStep) -> None:
    """Raise a SpecError (the step's line, the module's file and line, a fix) unless the
    step's module imports and defines its function."""
    module_name, _, function = step.python.partition(":")
    module = _import(source, index, name, module_name)
    if not callable(getattr(module, function, None)):
        raise source.error(
            f"python step: {module_name!r} has no function {function!r}",
            "steps",
            index,
            "python",
            fix="define the function or fix its name",
        )


def _import(source: ProductSource, index: int, name: str, module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _names_the_module(exc.name, module_name):
            error = _does_not_import(source, index, name, module_name, exc)
        else:  # the step's module itself (or its package) is not there
            error = source.error(
                f"python step cannot import {module_name!r}: {exc}",
                "steps",
                index,
                "python",
                fix="check the module path; domain code lives in domains/<domain>/",
            )
    except Exception as exc:  # anything the module raises while it is imported
        error = _does_not_import(source, index, name, module_name, exc)
    raise error from None


def _names_the_module(missing: str, module_name: str) -> bool:
    """Whether a missing module `missing` is `module_name` or one of its packages."""
    return module_name == missing or module_name.startswith(f"{missing}.")


def _does_not_import(
    source: ProductSource, index: int, name: str, module_name: str, exc: Exception
) -> SpecError:
    file, line = _where(exc, module_name)
    where = f"{file}:{line}" if line else str(file or module_name)
    return source.error(
        f"python step {name!r}: module {module_name!r} does not import: "
        f"{type(exc).__name__}: {_text(exc)} ({where})",
        "steps",
        index,
        "python",
        fix=f"fix {where}; `python -c 'import {module_name}'` shows the traceback",
    )


def _text(exc: Exception) -> str:
    return exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)


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
    origin = _origin(module_name)
    own = [f for f in frames if f[0] == origin]
    if own:
        return own[-1]
    machinery = {Path(__file__).resolve(), Path(importlib.__file__ or "").resolve()}
    ran = [f for f in frames if f[0] not in machinery]
    return ran[-1] if ran else (origin, None)


def _origin(module_name: str) -> Path | None:
    """The file of a module that did not import (its packages did)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except Exception:  # a package of it does not import either
        return None
    return Path(spec.origin).resolve() if spec is not None and spec.origin else None
