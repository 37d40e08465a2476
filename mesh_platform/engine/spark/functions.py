"""The catalogue's SQL functions on Spark: inlined Spark SQL, and Arrow UDFs for the keyed ones.

The catalogue (`registry/functions.py`) says what each function means; this module is how
Spark provides it, with the local engine's exact answers (tests/test_spark_engine.py compares
them value by value). Keyless built-ins and the functions defined by a Spark SQL body (the
business rules) are expanded into the query, their parameters replaced by the call's
arguments: Catalyst compiles them like any expression, with no function call per row and
nothing to register. The keyed functions (AES-SIV, the HMAC token) run as vectorized Arrow
UDFs registered on the run's own session, sharing `security/crypto.py` with the local engine so
tokens and ciphertexts are the same bytes. Keys reach the UDFs inside their closures (shipped
to the Python workers with the task), never as SQL text, so no query plan shows them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pyarrow as pa  # pyspark resolves the Arrow UDFs' annotations in this module
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from mesh_platform.registry import registry
from mesh_platform.security.keys import Keyring

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark SQL bodies of the keyless built-ins (the catalogue holds their meaning and signature);
# the local engine's DuckDB macros are the reference they agree with.
_BUILTIN_BODIES: dict[str, tuple[tuple[str, ...], str]] = {
    "mask_email": (("v",), "regexp_replace(CAST(v AS STRING), '^(.)[^@]*@', '$1***@')"),
    "mask_phone": (
        ("v",),
        "concat(repeat('*', greatest(length(CAST(v AS STRING)) - 4, 0)), "
        "right(CAST(v AS STRING), 4))",
    ),
    "mask_partial": (
        ("v", "keep"),
        "concat(left(CAST(v AS STRING), keep), "
        "repeat('*', greatest(length(CAST(v AS STRING)) - keep, 0)))",
    ),
    "generalize_month": (("d",), "CAST(trunc(CAST(d AS DATE), 'MM') AS DATE)"),
    "generalize_number": (("n", "width"), "CAST(floor(n / width) * width AS DOUBLE)"),
}
# Keyed catalogue functions -> the session UDF that implements them (over the value's text, as
# on the local engine: pseudonymize(42) == pseudonymize('42')). The UDF names are internal:
# domain SQL may call only catalogue names (the compiler refuses others).
_KEYED = {
    "encrypt_det": "mesh_encrypt_det",
    "decrypt_det": "mesh_decrypt_det",
    "pseudonymize": "mesh_hmac_sha256",
}
_MAX_NESTING = 32  # calls of catalogue functions inside each other's arguments


def provided() -> tuple[str, ...]:
    """The catalogue functions this module provides on Spark."""
    defined = tuple(f.name for f in registry().functions.defined())
    return (*_BUILTIN_BODIES, *_KEYED, *defined)


@functools.cache
def _bodies() -> dict[str, tuple[tuple[str, ...], exp.Expr]]:
    """Name -> (parameters, parsed Spark SQL body) of every inlined function; parsed once per
    process (the registry does not change within a process)."""
    bodies = dict(_BUILTIN_BODIES)
    for function in registry().functions.defined():
        assert function.body is not None
        bodies[function.name] = (function.params, function.body)
    return {
        name: (params, sqlglot.parse_one(body, read="spark"))
        for name, (params, body) in bodies.items()
    }


def _expand(node: exp.Expr) -> exp.Expr:
    if not isinstance(node, exp.Anonymous):
        return node
    name = node.name.lower()
    if name in _KEYED:
        (argument,) = node.expressions
        text = exp.Cast(this=argument.copy(), to=exp.DataType.build("string"))
        return exp.Anonymous(this=_KEYED[name], expressions=[text])
    found = _bodies().get(name)
    if found is None:
        return node
    params, body = found
    arguments = dict(zip(params, node.expressions, strict=True))

    def substitute(inner: exp.Expr) -> exp.Expr:
        if isinstance(inner, exp.Column) and not inner.table and inner.name in arguments:
            return exp.Paren(this=arguments[inner.name].copy())
        return inner

    return exp.Paren(this=body.copy().transform(substitute))


def inline_functions(query: exp.Expr) -> exp.Expr:
    """A copy of `query` with the catalogue's calls replaced by what Spark runs."""
    result = query.copy()
    for _ in range(_MAX_NESTING):
        expanded = result.transform(_expand)
        if expanded == result:
            return result
        result = expanded
    raise ValueError(f"catalogue function calls nested more than {_MAX_NESTING} deep")


def to_spark_sql(query: exp.Expr) -> str:
    """The Spark SQL text Spark runs for a planned query."""
    return inline_functions(query).sql(dialect="spark")


def register_keyed(session: SparkSession, keyring: Keyring) -> None:
    """The keyed functions' UDFs on `session`, with `keyring`'s current key."""
    from pyspark.sql.functions import arrow_udf

    from mesh_platform.security.crypto import decrypt_values, encrypt_values, hmac_tokens

    token_key = keyring.token_key()

    def token(values: pa.Array) -> pa.Array:
        return pc.cast(hmac_tokens(token_key, values), pa.string())

    def encrypt(values: pa.Array) -> pa.Array:
        return pa.array(encrypt_values(keyring, values.to_pylist()), pa.string())

    def decrypt(values: pa.Array) -> pa.Array:
        return pa.array(decrypt_values(keyring, values.to_pylist()), pa.string())

    for name, function in (
        (_KEYED["pseudonymize"], token),
        (_KEYED["encrypt_det"], encrypt),
        (_KEYED["decrypt_det"], decrypt),
    ):
        session.udf.register(name, arrow_udf(function, "string"))  # type: ignore[call-overload]
