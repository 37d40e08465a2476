"""The catalogue's SQL functions on DuckDB: macros over native functions, and Arrow UDFs.

The catalogue (`registry/functions.py`) says what each function means; this module is how
DuckDB provides it. Keyless built-ins are DuckDB macros (vectorized: no Python call per
value); functions defined by a Spark SQL body (the business rules) become macros of that
body transpiled to DuckDB; AES-SIV encryption and the keyed token run as batched Arrow UDFs.
Keys come from the keyring given to the engine and are never written into SQL text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import duckdb
import pyarrow as pa  # DuckDB evaluates the Arrow UDFs' annotations in this module
import sqlglot

from mesh_platform.engine.duckdb import spark_builtins, translate
from mesh_platform.registry import registry
from mesh_platform.security.keys import Keyring, KeyUnavailable

DIALECT = translate.DIALECT
_TOKEN_FUNCTION = "mesh_hmac_sha256"

# DuckDB bodies of the keyless built-ins (the catalogue holds their meaning and signature).
_BUILTIN_MACROS = {
    "mask_email": "(v) AS regexp_replace(CAST(v AS VARCHAR), '^(.)[^@]*@', '\\1***@')",
    "mask_phone": (
        "(v) AS repeat('*', greatest(length(CAST(v AS VARCHAR)) - 4, 0)) "
        "|| right(CAST(v AS VARCHAR), 4)"
    ),
    "mask_partial": (
        "(v, keep) AS left(CAST(v AS VARCHAR), keep) "
        "|| repeat('*', greatest(length(CAST(v AS VARCHAR)) - keep, 0))"
    ),
    "generalize_month": "(d) AS CAST(date_trunc('month', CAST(d AS DATE)) AS DATE)",
    "generalize_number": "(n, width) AS CAST(floor(n / width) * width AS DOUBLE)",
}
_KEYED = ("encrypt_det", "decrypt_det", "pseudonymize")


def provided() -> tuple[str, ...]:
    """The catalogue functions this module provides on DuckDB."""
    defined = tuple(f.name for f in registry().functions.defined())
    return (*_BUILTIN_MACROS, *_KEYED, *defined)


def register_functions(con: duckdb.DuckDBPyConnection, keyring: Keyring | None) -> None:
    """Every catalogue function on `con`'s database; keyed ones with `keyring`'s keys.

    The macros are created in the database's catalogue (not TEMP) and the Arrow UDFs are
    database-wide too, so every `con.cursor()` sees them: the engine registers them once per
    database and runs each product on a cursor of its own.
    """
    con.execute(_macros())
    _register_keyed(con, keyring)


@functools.cache
def _macros() -> str:
    """The keyless macros as one script, built (and transpiled) once per process: the registry
    does not change within a process."""
    macros = {**spark_builtins.SPARK_MACROS, **_BUILTIN_MACROS}
    statements = [f"CREATE OR REPLACE MACRO {n}{b}" for n, b in macros.items()]
    for function in registry().functions.defined():
        assert function.body is not None
        # With Spark's meaning, as a step's SQL (the bodies are Spark SQL too).
        body = translate.to_duckdb(sqlglot.parse_one(function.body, read="spark"))
        params = ", ".join(function.params)
        statements.append(f"CREATE OR REPLACE MACRO {function.name}({params}) AS {body}")
    return ";\n".join(statements)


def _register_keyed(con: duckdb.DuckDBPyConnection, keyring: Keyring | None) -> None:
    def unavailable(_values: pa.Array) -> pa.Array:
        if keyring is not None:
            _ = keyring.current_id  # raises the keyring's own error, naming the variable
        raise KeyUnavailable(
            "this step calls a keyed function but the run has no `keys` resource; "
            "give the engine a keyring (the code location's resources provide one)"
        )

    if keyring is None or not keyring.available:
        for name in ("encrypt_det", "decrypt_det", _TOKEN_FUNCTION):
            _arrow_function(con, name, unavailable)
    else:
        from mesh_platform.security.crypto import hmac_tokens

        token_key = keyring.token_key()
        _arrow_function(con, _TOKEN_FUNCTION, lambda values: hmac_tokens(token_key, values))
    # Any value is tokenized as its text, as on Spark: pseudonymize(42) == pseudonymize('42').
    con.execute(f"CREATE OR REPLACE MACRO pseudonymize(v) AS {_TOKEN_FUNCTION}(CAST(v AS VARCHAR))")
    if keyring is None or not keyring.available:
        return
    from mesh_platform.security.crypto import decrypt_values, encrypt_values

    def encrypt(values: pa.Array) -> pa.Array:
        return pa.array(encrypt_values(keyring, values.to_pylist()), pa.string())

    def decrypt(values: pa.Array) -> pa.Array:
        return pa.array(decrypt_values(keyring, values.to_pylist()), pa.string())

    for name, function in (("encrypt_det", encrypt), ("decrypt_det", decrypt)):
        _arrow_function(con, name, function)


def _arrow_function(
    con: duckdb.DuckDBPyConnection, name: str, function: Callable[[pa.Array], pa.Array]
) -> None:
    from duckdb.func import FunctionNullHandling, PythonUDFType

    # Batched: one Python call per vector of values; NULLs handled by the function itself.
    con.create_function(
        name,
        function,
        ["VARCHAR"],
        "VARCHAR",
        type=PythonUDFType.ARROW,
        null_handling=FunctionNullHandling.SPECIAL,
    )
