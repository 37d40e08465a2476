"""Standard steps in polars and Python steps: frames in, a frame out, on every engine."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from mesh_platform.registry import registry


def apply_standard(name: str, frame: pl.LazyFrame, params: Any) -> pl.DataFrame:
    """Run the polars implementation of standard step `name` over the previous result."""
    definition = registry().steps.get(name)
    # SQL-backed standard steps are planned as queries; only polars ones get here.
    assert definition is not None and definition.apply is not None, name
    return definition.apply(frame, params).collect()


def call_python(
    ref: str, frame: pl.LazyFrame, inputs: Callable[[], Mapping[str, pl.LazyFrame]]
) -> pl.DataFrame:
    """Call a Python step `module:function` with the previous result (and the inputs, when
    it takes a second parameter); it must return a polars DataFrame or LazyFrame."""
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
