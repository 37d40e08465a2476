"""Standard steps in polars and Python steps: frames in, a frame out, on every engine.

A Python step runs in a sandbox (`sandbox/`): a child process that can read only the
Python installation, the platform's package and the step's own domain folder, and can open
no socket. It receives its frame (and its inputs, when it takes them) as Arrow data and
returns a frame; a file it opens outside that allow-list, a Delta table it reads or writes,
a connection it makes, fails in the kernel, and the run reports it as the domain's error
(`StepRefused`, a `StepFailed`) naming the product and the step. Where the sandbox cannot
run (no Landlock ABI 4: an old kernel, macOS), Python steps fail closed (`SandboxUnavailable`)
unless `MESH_SANDBOX=off` (development only: the steps then run in this process).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mesh_platform.access.readonly import takes_inputs
from mesh_platform.config import environment
from mesh_platform.errors import EngineFailure, StepFailed
from mesh_platform.registry import registry
from mesh_platform.sandbox import client, paths
from mesh_platform.sandbox.domain_code import SandboxUnavailable, check_available, forbidden
from mesh_platform.spec.model import ProductSpec

if TYPE_CHECKING:
    import polars as pl

_LOG = logging.getLogger(__name__)
WHY = (
    "Python steps receive their inputs as frames and cannot read the lake, the landing files "
    "or the network"
)


class StepRefused(StepFailed):
    """The sandbox refused what a Python step tried (a file, a table, a connection): the
    domain's business-logic error, reported with the product, the step and the target."""

    def __init__(
        self, step: str, product: str, action: str, target: str | None, cause: BaseException
    ) -> None:
        self.step = step
        self.kind = "python"
        self.product = product
        self.target = target
        what = f"{action} {target}" if target else "reach something outside its inputs"
        first = str(cause).strip().splitlines()[0][:300] if str(cause).strip() else ""
        super(StepFailed, self).__init__(
            f"the Python step {step!r} of product {product!r} tried to {what}: {WHY} "
            f"(refused by the sandbox: {type(cause).__name__}: {first})"
        )


def apply_standard(name: str, frame: pl.LazyFrame, params: Any) -> pl.DataFrame:
    """Run the polars implementation of standard step `name` over the previous result."""
    definition = registry().steps.get(name)
    # SQL-backed standard steps are planned as queries; only polars ones get here.
    assert definition is not None and definition.apply is not None, name
    return definition.apply(frame, params).collect()


def call_python(
    ref: str,
    frame: pl.LazyFrame,
    inputs: Callable[[], Mapping[str, pl.LazyFrame]],
    *,
    step: str = "python",
    product: str | None = None,
    sandbox: bool | None = None,
) -> pl.DataFrame:
    """Call a Python step `module:function` with the previous result (and the inputs, when
    it takes a second parameter); it must return a polars DataFrame or LazyFrame.

    It runs in the sandbox unless `sandbox` is False (None: the deployment's `MESH_SANDBOX`).
    `step` and `product` name it in errors (the product defaults to the calling run's spec).
    """
    if sandbox is None:
        sandbox = environment.python_sandbox()
    if not sandbox:
        _warn_unsandboxed()
        return _in_process(ref, frame, inputs)
    return _sandboxed(ref, frame, inputs, step, product)


def _in_process(
    ref: str, frame: pl.LazyFrame, inputs: Callable[[], Mapping[str, pl.LazyFrame]]
) -> pl.DataFrame:
    import polars as pl

    module_name, _, function_name = ref.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    if len(inspect.signature(function).parameters) >= 2:
        result = function(frame, inputs())
    else:
        result = function(frame)
    if isinstance(result, pl.LazyFrame):
        result = result.collect()
    if not isinstance(result, pl.DataFrame):
        raise TypeError(f"{ref} returned {type(result).__name__}; return a polars DataFrame")
    return result


def _warn_unsandboxed() -> None:
    if getattr(_warn_unsandboxed, "done", False):
        return
    _warn_unsandboxed.done = True  # type: ignore[attr-defined]
    _LOG.warning(
        "MESH_SANDBOX=off: Python steps run in this process, unsandboxed, with the lake, the "
        "landing files and the network in reach. Use it on a development machine without "
        "Landlock only (docs/access.md)."
    )


def _sandboxed(
    ref: str,
    frame: pl.LazyFrame,
    inputs: Callable[[], Mapping[str, pl.LazyFrame]],
    step: str,
    product: str | None,
) -> pl.DataFrame:
    check_available()
    module_name, _, function_name = ref.partition(":")
    parts = paths.locate(module_name)
    roots = forbidden()
    request: dict[str, Any] = {
        "ref": ref,
        "module": [part.as_message() for part in parts],
        "function": function_name,
        "read": paths.of_module(parts, roots),
        "forbidden": roots,
        "inputs": None,
    }
    table = frame.collect().to_arrow()  # a lazy scan of the lake must not be handed over
    given = _collected(inputs) if takes_inputs(ref) else None
    request["inputs"] = list(given) if given is not None else None
    outcome = client.run(request, table, given)
    if outcome.reply.get("need_inputs") and given is None:
        given = _collected(inputs)
        request["inputs"] = list(given)
        outcome = client.run(request, table, given)
    if outcome.table is not None:
        import polars as pl

        result = pl.from_arrow(outcome.table)
        assert isinstance(result, pl.DataFrame)
        return result
    raise _error(outcome, step, product or _calling_product() or f"? ({ref})")


def _collected(inputs: Callable[[], Mapping[str, pl.LazyFrame]]) -> dict[str, Any]:
    return {port: frame.collect().to_arrow() for port, frame in inputs().items()}


def _error(outcome: client.Outcome, step: str, product: str) -> Exception:
    reply = outcome.reply
    if not reply:
        code = outcome.exit_code
        how = (
            f"was killed by signal {-code}" + (" (out of memory?)" if code == -9 else "")
            if code is not None and code < 0
            else f"ended (exit code {code}) without a result"
        )
        return EngineFailure(step, "python", RuntimeError(f"the step's sandboxed process {how}"))
    if reply.get("setup"):
        return SandboxUnavailable(
            f"the sandbox of Python step {step!r} of {product} could not be set up: "
            f"{reply.get('type')}: {reply.get('message')}. Fix: run on Linux 6.7 or later with "
            "Landlock, or set MESH_SANDBOX=off on a development machine"
        )
    cause = _rebuilt(reply)
    error: StepFailed | EngineFailure
    if reply.get("denied"):
        error = StepRefused(
            step, product, str(reply.get("action", "read")), reply.get("target"), cause
        )
    elif reply.get("memory"):
        error = EngineFailure(step, "python", cause)
    else:
        error = StepFailed(step, "python", cause)
    error.__cause__ = cause  # as `raise ... from cause`: the step's own exception, shown
    return error


def _rebuilt(reply: Mapping[str, Any]) -> Exception:
    """The child's exception, as the parent can show it: a built-in or polars class when it is
    one (never importing anything), else a class of the same name; the sandbox's traceback as
    a note."""
    name, module = str(reply.get("type", "Exception")), str(reply.get("module", "builtins"))
    message, args = str(reply.get("message", "")), list(reply.get("args") or [])
    trusted = module == "builtins" or module.startswith("polars.")
    known = sys.modules.get(module) if trusted else None
    kind = getattr(known, name, None) if known is not None else None
    exc: Exception | None = None
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            candidate = kind(*args)
        except Exception:
            candidate = None
        if candidate is not None and str(candidate) == message:
            exc = candidate
    if exc is None:
        exc = type(name, (Exception,), {"__module__": module})(message)
    trace = reply.get("trace")
    if trace:
        exc.add_note(f"in the Python step's sandbox:\n{trace}")
    return exc


def _calling_product() -> str | None:
    """The product whose run called this step: the `spec` of a calling frame (the run,
    preview and product-test paths all hold one). The engine protocol does not pass it."""
    frame = sys._getframe(1)
    while frame is not None:
        spec = frame.f_locals.get("spec")
        if isinstance(spec, ProductSpec):
            return spec.qualified_name
        frame = frame.f_back  # type: ignore[assignment]
    return None
