"""What a sandboxed child does with domain code other than a Python step, once it has
imported the module (inside the sandbox, so the module's import-time code ran confined):

- `values`: the module's attributes named in the request (a product module's `products` or
  `product`), each a pydantic model of the requested class as its JSON, else its type's name;
- `check`: whether the module defines the requested function (a step module at load);
- `call`: call the requested function with JSON arguments, some rebuilt as the requested
  pydantic classes (a template hook's `spec`); its JSON return value, when it has one.

The result is JSON, written into the output memfd by the child. Nothing here trusts the
module: the parent validates every value again.
"""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any


def _class_name(kind: type) -> str:
    return f"{kind.__module__}:{kind.__qualname__}"


def _model(ref: str) -> Any:
    """The class `module:Name` (a pydantic model the platform names, e.g. its ProductSpec)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def values(module: ModuleType, request: dict[str, Any]) -> Any:
    """The first of the attributes `request["attributes"]` the module sets (truthy), as a list:
    `{"json": ...}` for an instance of `request["model"]`, else `{"type": "<its type>"}`."""
    found: Any = None
    for attribute in request["attributes"]:
        found = getattr(module, attribute, None)
        if found:
            break
    items = list(found) if isinstance(found, list | tuple) else [found]
    wanted = request["model"]
    result: list[dict[str, Any]] = []
    for item in items:
        if _class_name(type(item)) == wanted:
            result.append({"json": item.model_dump(mode="json", by_alias=True)})
        else:
            result.append({"type": type(item).__name__})
    return result


def check(module: ModuleType, request: dict[str, Any]) -> Any:
    """Whether the module defines the function `request["function"]` (callable)."""
    return {"callable": callable(getattr(module, request["function"], None))}


def call(module: ModuleType, request: dict[str, Any]) -> Any:
    """Call `request["function"]` with `request["args"]`; the positions named in
    `request["models"]` are rebuilt as those classes first. Returns its value when it is JSON,
    else None."""
    args = list(request["args"])
    for position, ref in (request.get("models") or {}).items():
        args[int(position)] = _model(ref).model_validate(args[int(position)])
    returned = getattr(module, request["function"])(*args)
    try:
        json.dumps(returned)
    except (TypeError, ValueError):
        return None
    return returned


KINDS = {"values": values, "check": check, "call": call}
