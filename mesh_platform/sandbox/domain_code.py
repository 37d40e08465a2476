"""The parent's side of running domain code in the sandbox: the policy (is it on, can this
machine run it, which folders it never allows) and the calls other than a Python step's run:

- `import_values`: import a product module in a child, get its ProductSpec values as JSON
  (`spec/loading.py` validates them again);
- `check_function`: import a step module in a child, whether it defines its function
  (`compile/step_modules.py`, at load);
- `call_function`: call a template hook in a child (`dagster/template.py`, in a run).

A failure in the child comes back as `DomainCodeFailed` with its `Failure` (the type, message,
frames, a syntax error's place, pydantic's errors, and what the sandbox refused), which each
caller turns into its own error (a SpecError naming the file, a run's failure naming the
hook). With `MESH_SANDBOX=off` the callers import in their own process (`enabled`).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from mesh_platform.config import environment
from mesh_platform.errors import BusinessLogicError, ConfigurationError, PlatformError
from mesh_platform.sandbox import client, landlock, paths, seccomp

_LOG = logging.getLogger(__name__)
WHY = "domain code runs in a sandbox that cannot read the lake, the landing files or the network"


class SandboxUnavailable(ConfigurationError):
    """This machine cannot sandbox domain code, and `MESH_SANDBOX=off` is not set."""


@dataclass(frozen=True)
class Failure:
    """What went wrong in the child, as it reported it (untrusted text, bounded in size)."""

    type: str
    module: str
    message: str
    trace: str = ""
    frames: tuple[tuple[str, int], ...] = ()
    syntax: dict[str, Any] | None = None  # filename, lineno, msg
    missing: str | None = None  # a ModuleNotFoundError's module
    errors: list[dict[str, Any]] | None = field(default=None, compare=False)
    title: str = ""
    refused: str | None = None  # "read /x/y", "connect to host:port": what the sandbox refused

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> Failure:
        refused = None
        if reply.get("denied"):
            target = reply.get("target")
            action = str(reply.get("action", "read"))
            refused = f"{action} {target}" if target else "reach something outside its folder"
        frames = tuple(
            (str(f[0]), int(f[1]))
            for f in reply.get("frames") or ()
            if isinstance(f, list) and len(f) == 2
        )
        return cls(
            type=str(reply.get("type", "Exception")),
            module=str(reply.get("module", "builtins")),
            message=str(reply.get("message", "")),
            trace=str(reply.get("trace", "")),
            frames=frames,
            syntax=reply.get("syntax") if isinstance(reply.get("syntax"), dict) else None,
            missing=str(reply["missing"]) if reply.get("missing") else None,
            errors=reply.get("errors") if isinstance(reply.get("errors"), list) else None,
            title=str(reply.get("title", "")),
            refused=refused,
        )

    def line_in(self, path: Path | str | None) -> int | None:
        """The deepest line of the traceback in the file `path`."""
        if path is None:
            return None
        wanted = Path(path).resolve()
        lines = [number for file, number in self.frames if Path(file).resolve() == wanted]
        return lines[-1] if lines else None

    def validation_error(self) -> ValidationError | None:
        """pydantic's error as raised in the child (type, location, message, context)."""
        if self.type != "ValidationError" or self.errors is None:
            return None
        details: list[Any] = [
            {
                "type": PydanticCustomError(
                    str(e["type"]), str(e["msg"]), dict(e.get("ctx") or {})
                ),
                "loc": tuple(e.get("loc") or ()),
                "input": None,
            }
            for e in self.errors
        ]
        return ValidationError.from_exception_data(self.title or "ValidationError", details)


class DomainCodeFailed(BusinessLogicError):
    """Domain code (a product module, a step module, a hook) failed or was refused in the
    sandbox; the caller turns it into its own error with `failure`."""

    def __init__(self, ref: str, failure: Failure) -> None:
        self.ref = ref
        self.failure = failure
        what = f"tried to {failure.refused}" if failure.refused else "failed"
        super().__init__(f"{ref} {what}: {failure.type}: {failure.message}")


def enabled() -> bool:
    """Whether domain code runs in the sandbox (`MESH_SANDBOX`); off: warn once."""
    if environment.python_sandbox():
        return True
    warn_unsandboxed()
    return False


def warn_unsandboxed() -> None:
    if getattr(warn_unsandboxed, "done", False):
        return
    warn_unsandboxed.done = True  # type: ignore[attr-defined]
    _LOG.warning(
        "MESH_SANDBOX=off: Python steps, product modules and template hooks run in this "
        "process, unsandboxed, with the lake, the landing files and the network in reach. "
        "Use it on a development machine without Landlock only (docs/access.md)."
    )


def check_available() -> None:
    """Raise `SandboxUnavailable` (with the fix) unless this machine can sandbox code."""
    found = landlock.abi()
    if found >= landlock.MINIMUM_ABI and seccomp.supported():
        return
    if not sys.platform.startswith("linux"):
        what = f"this is {sys.platform}, which has no Landlock"
    elif found < landlock.MINIMUM_ABI:
        what = (
            f"this kernel's Landlock ABI is {found}"
            if found
            else "this kernel has no Landlock (or `landlock` is not in its LSM list)"
        )
    else:
        what = "there is no seccomp filter for this architecture"
    raise SandboxUnavailable(
        f"Python steps, product modules and template hooks run in a sandbox that needs Linux "
        f"with Landlock ABI >= {landlock.MINIMUM_ABI} (Linux 6.7 or later) and seccomp on "
        f"x86-64 or arm64; {what}. Fix: run on such a kernel, or, on a development machine "
        "only, set MESH_SANDBOX=off (domain code then runs unsandboxed, with the lake in reach)"
    )


def forbidden() -> list[str]:
    """Folders the sandbox never allows, whatever rule names them: Mesh's home, the lake and
    the landing folder when they are local."""
    roots = [str(environment.mesh_home()), environment.lake_root(), environment.landing_root()]
    return [r.removeprefix("file://") for r in roots if "://" not in r.removeprefix("file://")]


def model_name(model: type) -> str:
    return f"{model.__module__}:{model.__qualname__}"


def _run(kind: str, ref: str, module_name: str, **fields: Any) -> Any:
    """Import `module_name` in a child and do `kind` (`calls.py`); its JSON result.
    Raises ModuleNotFoundError (not located), DomainCodeFailed, SandboxUnavailable."""
    check_available()
    parts = paths.locate(module_name)
    roots = forbidden()
    request: dict[str, Any] = {
        "kind": kind,
        "ref": ref,
        "module": [part.as_message() for part in parts],
        "read": paths.of_module(parts, roots),
        "forbidden": roots,
        **fields,
    }
    outcome = client.call(request)
    reply = outcome.reply
    if reply.get("ok"):
        return outcome.value
    if not reply:
        code = outcome.exit_code
        raise PlatformError(
            f"{ref}: its sandboxed process ended (exit code {code}) without a result"
            + (" (killed: out of memory?)" if code == -9 else "")
        )
    if reply.get("setup"):
        raise SandboxUnavailable(
            f"the sandbox for {ref} could not be set up: {reply.get('type')}: "
            f"{reply.get('message')}. Fix: run on Linux 6.7 or later with Landlock, or set "
            "MESH_SANDBOX=off on a development machine"
        )
    raise DomainCodeFailed(ref, Failure.from_reply(reply))


def import_values(module_name: str, attributes: list[str], model: type) -> list[dict[str, Any]]:
    """The module's first set attribute of `attributes` (a value or a list): per value,
    `{"json": ...}` when it is a `model`, else `{"type": name}`."""
    client.preload(model.__module__)
    found = _run("values", module_name, module_name, attributes=attributes, model=model_name(model))
    return [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []


def check_function(module_name: str, function: str) -> bool:
    """Whether the module (imported in a child) defines the callable `function`."""
    found = _run("check", f"{module_name}:{function}", module_name, function=function)
    return bool(isinstance(found, dict) and found.get("callable"))


def call_function(ref: str, args: list[Any], models: dict[int, type] | None = None) -> Any:
    """Call `module:function` with JSON `args` in a child (`models`: positions rebuilt as
    those pydantic classes); its JSON return value, else None."""
    module_name, _, function = ref.partition(":")
    for model in (models or {}).values():
        client.preload(model.__module__)
    named = {str(i): model_name(m) for i, m in (models or {}).items()}
    return _run("call", ref, module_name, function=function, args=args, models=named)
