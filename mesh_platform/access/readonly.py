"""Read-only for others: a domain writes only its own products, through the platform.

A product's output location belongs to its domain: a spec that names another domain is
refused when it loads (`spec/loading.py`), the lakehouse bound to a domain refuses a write to
another domain's table (`lake/lakehouse.py`), and a Python step that writes storage itself
(instead of returning its result for the platform to write) is refused here, at load, by
reading its source: it could target any table, another domain's included, and a direct read
would bypass the access policy's masking.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from mesh_platform.errors import SpecError
from mesh_platform.spec.loading import ProductSource

# Calls that reach table storage when a step makes them itself: writes and deletes could
# target any domain's table; direct reads would bypass the access policy's masking.
STORAGE_CALLS = frozenset(
    {
        "write_deltalake",
        "write_delta",
        "write_parquet",
        "write_database",
        "create_write_transaction",
        "DeltaTable",
        "scan_delta",
        "read_delta",
    }
)
# Modules a step has no reason to import: storage is the platform's.
STORAGE_MODULES = ("deltalake", "mesh_platform.lake", "mesh_platform.run")


def _module_tree(module_name: str) -> ast.Module | None:
    """The parsed source of a module, None when it has no readable Python source file (not
    found, or not valid Python: the plan imports the module and reports why, with its line)."""
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except (ImportError, SyntaxError, ValueError, OSError):
        return None


def _function(ref: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    module_name, _, name = ref.partition(":")
    tree = _module_tree(module_name)
    for node in tree.body if tree else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def takes_inputs(ref: str) -> bool:
    """Whether Python step `module:function` takes the inputs (a second parameter)."""
    function = _function(ref)
    if function is None:
        return True  # not readable: assume it may read the inputs
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    return len(positional) >= 2 or args.vararg is not None


def storage_access(ref: str) -> list[tuple[int, str]]:
    """Where the module of Python step `ref` reaches storage itself: (line, what), in order."""
    tree = _module_tree(ref.partition(":")[0])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if any(name == m or name.startswith(m + ".") for m in STORAGE_MODULES):
                    found.append((node.lineno, f"import {name}"))
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in STORAGE_CALLS:
                found.append((node.lineno, f"{called}(...)"))
    return sorted(found)


def check_python_step(source: ProductSource, index: int, ref: str) -> None:
    """Refuse a Python step whose module reaches storage itself (any domain's table)."""
    writes = storage_access(ref)
    if not writes:
        return
    line, what = writes[0]
    module = ref.partition(":")[0]
    raise SpecError(
        f"python step {ref!r} reaches storage itself ({what} at line {line} of {module}); a "
        f"step returns its result and the platform writes it to {source.spec.qualified_name}: "
        "a domain never writes another domain's products",
        file=source.path,
        line=source.line_of("steps", index),
        fix="read the step's inputs from its parameters, return a polars DataFrame and drop "
        "the storage call: the platform reads and writes tables (docs/access.md)",
    )
