"""The platform's SQL functions (UDFs), registered on every local-engine connection.

Names are plain Spark-style identifiers (`pseudonymize(c_name)`), so the same SQL runs on
Spark once the same functions are registered there. Locally they are DuckDB macros over native
functions (vectorized: no Python call per value), except AES-SIV encryption, which runs as a
batched Arrow UDF. Keyed functions get their keys from the keyring given to the engine; keys
are bound as DuckDB variables, never written into SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa  # DuckDB evaluates the Arrow UDFs' annotations in this module
from sqlglot import exp

from mesh_platform.keys import Keyring, KeyUnavailable

Registrar = Callable[[duckdb.DuckDBPyConnection], None]

# DuckDB variables holding the HMAC pads; user SQL may not read them (see `reserved_calls`).
RESERVED_FUNCTIONS = ("getvariable",)
_TOKEN_FUNCTION = "mesh_hmac_sha256"


@dataclass(frozen=True)
class SqlFunction:
    """A published SQL function: signature, meaning, example and its effect on tags."""

    name: str
    signature: str
    description: str
    example: str
    protects_as: str | None = None  # the tag replacing `pii` on its result, if it protects
    keyed: bool = False
    version: str = "1.0.0"


_FUNCTIONS = (
    SqlFunction(
        "encrypt_det",
        "encrypt_det(value) -> string",
        "Deterministic AES-SIV encryption under the current key; joins and group-bys still work.",
        "SELECT encrypt_det(c_phone) AS c_phone FROM customer",
        "encrypted",
        keyed=True,
    ),
    SqlFunction(
        "decrypt_det",
        "decrypt_det(ciphertext) -> string",
        "Decrypt encrypt_det ciphertext with any key of the keyring; only in products tagged "
        "`decrypt: authorized`.",
        "SELECT decrypt_det(c_phone) AS c_phone FROM contacts",
        None,
        keyed=True,
    ),
    SqlFunction(
        "pseudonymize",
        "pseudonymize(value) -> string",
        "Keyed token: hex HMAC-SHA256 of the value's text; stable, not reversible without key.",
        "SELECT pseudonymize(c_name) AS customer_token FROM customer",
        "pseudonymized",
        keyed=True,
    ),
    SqlFunction(
        "mask_email",
        "mask_email(email) -> string",
        "Keep the first character and the domain: j***@example.com.",
        "SELECT mask_email(email) AS email FROM users",
        "masked",
    ),
    SqlFunction(
        "mask_phone",
        "mask_phone(phone) -> string",
        "Keep the last 4 characters, star the rest: ***********2988.",
        "SELECT mask_phone(c_phone) AS c_phone FROM customer",
        "masked",
    ),
    SqlFunction(
        "mask_partial",
        "mask_partial(value, keep) -> string",
        "Keep the first `keep` characters, star the rest.",
        "SELECT mask_partial(c_name, 3) AS c_name FROM customer",
        "masked",
    ),
    SqlFunction(
        "generalize_month",
        "generalize_month(date) -> date",
        "The first day of the date's month.",
        "SELECT generalize_month(birth_date) AS birth_month FROM people",
        "generalized",
    ),
    SqlFunction(
        "generalize_number",
        "generalize_number(number, width) -> double",
        "The lower bound of the number's bucket of size `width`: 37 with width 10 -> 30.",
        "SELECT generalize_number(c_acctbal, 1000) AS balance_band FROM customer",
        "generalized",
    ),
)


def sql_functions() -> list[SqlFunction]:
    """Every published SQL function, the business-rule functions included."""
    from standards.business_rules import rule_functions

    return [*_FUNCTIONS, *rule_functions()]


def protections() -> dict[str, str]:
    """Function name -> the tag its result carries instead of `pii`."""
    return {f.name: f.protects_as for f in _FUNCTIONS if f.protects_as}


_MACROS = {
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


def _register_keyless(con: duckdb.DuckDBPyConnection) -> None:
    from standards.business_rules import rule_macros

    for name, body in {**_MACROS, **rule_macros()}.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")


def _keyed_registrar(keyring: Keyring | None) -> Registrar:
    def register(con: duckdb.DuckDBPyConnection) -> None:
        from mesh_platform.crypto import decrypt_values, encrypt_values, hmac_tokens

        def unavailable(_values: pa.Array) -> pa.Array:
            if keyring is not None:
                _ = keyring.current_id  # raises the keyring's own error, naming the variable
            raise KeyUnavailable(
                "this step calls a keyed function but the run has no `keys` resource; "
                "give the engine a keyring (environment.build_resources provides one)"
            )

        if keyring is None or not keyring.available:
            for name in ("encrypt_det", "decrypt_det", _TOKEN_FUNCTION):
                _arrow_function(con, name, unavailable)
        else:
            token_key = keyring.token_key()
            _arrow_function(con, _TOKEN_FUNCTION, lambda values: hmac_tokens(token_key, values))
        # Any value is tokenized as its text, as on Spark: pseudonymize(42) == pseudonymize('42').
        con.execute(
            f"CREATE OR REPLACE TEMP MACRO pseudonymize(v) AS {_TOKEN_FUNCTION}(CAST(v AS VARCHAR))"
        )
        if keyring is None or not keyring.available:
            return

        def encrypt(values: pa.Array) -> pa.Array:
            return pa.array(encrypt_values(keyring, values.to_pylist()), pa.string())

        def decrypt(values: pa.Array) -> pa.Array:
            return pa.array(decrypt_values(keyring, values.to_pylist()), pa.string())

        for name, function in (("encrypt_det", encrypt), ("decrypt_det", decrypt)):
            _arrow_function(con, name, function)

    return register


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


def registrars(keyring: Keyring | None) -> Sequence[Registrar]:
    """What the local engine calls on each connection: every platform SQL function."""
    return (_register_keyless, _keyed_registrar(keyring))


DECRYPT_TAG = ("decrypt", "authorized")


def reserved_calls(functions: Sequence[str], tags: Mapping[str, str]) -> list[str]:
    """Functions this product's SQL may not call.

    `getvariable` would read the engine's key variables. `decrypt_det` needs the product to
    declare `tags: {decrypt: authorized}`, so decryption is visible in review and in the UI.
    """
    reserved = set(RESERVED_FUNCTIONS)
    if tags.get(DECRYPT_TAG[0]) != DECRYPT_TAG[1]:
        reserved.add("decrypt_det")
    return sorted({f.lower() for f in functions if f.lower() in reserved})


def needs_keys(queries: Iterable[exp.Query | None]) -> bool:
    """Whether any of these queries calls a keyed function (so its run needs the keyring)."""
    keyed = {f.name for f in _FUNCTIONS if f.keyed}
    return any(
        f.name.lower() in keyed
        for query in queries
        if query is not None
        for f in query.find_all(exp.Anonymous)
    )
