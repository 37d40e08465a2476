"""The SQL-function catalogue: what domain SQL may call, engine-neutral.

Each function has a Spark-style name and signature (`pseudonymize(c_name)`), a meaning, the
tag its result carries when it protects PII, and whether it needs the keyring. Engines
implement them (the DuckDB engine as macros and Arrow UDFs; see `engine/duckdb/functions.py`).
Functions defined by a SQL expression (`body`, Spark SQL over `params`) are implemented by
every engine from that one text: the business rules publish theirs that way.
"""

from __future__ import annotations

from dataclasses import dataclass

# Platform internals that domain SQL may never call on any engine: DuckDB's `getvariable`
# would read the bound key material; the token function is the keyed core of `pseudonymize`.
RESERVED = frozenset({"getvariable", "mesh_hmac_sha256"})
# Lineage names what a Python step computes `from_<step>(...)` in formulas (see step_lineage):
# no registered function may take such a name (it would read as a protection).
STEP_PREFIX = "from_"
# A mask clears `pii` (its result is `masked`) only when it keeps at most this many characters
# of the value: `mask_partial(v, k)` and `mask_redact(v, k)` with a literal k from 0 to 4,
# `mask_phone` (the last 4). A mask keeping more, or an unbounded number, leaves `pii`.
MASK_KEEP_AT_MOST = 4


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
    params: tuple[str, ...] = ()
    body: str | None = None  # a Spark SQL expression over `params`, for defined functions
    # Masks (`protects_as="masked"`): how many characters of the value the result keeps, a
    # fixed number (`keeps`) or the argument at position `keep_arg`; neither: unbounded.
    keeps: int | None = None
    keep_arg: int | None = None
    reveals: bool = False  # its result is the clear value of what it reads (decryption)

    def clears_pii(self, keep: int | None) -> bool:
        """Whether a call keeping `keep` characters (None: not a literal) protects `pii`."""
        if self.protects_as is None:
            return False
        if self.protects_as != "masked":
            return True  # tokens, ciphertext, generalizations keep no character of the value
        kept = self.keeps if self.keep_arg is None else keep
        return kept is not None and 0 <= kept <= MASK_KEEP_AT_MOST


BUILTIN_FUNCTIONS = (
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
        "Decrypt encrypt_det ciphertext with any key of the keyring; only in domains the access "
        "policy grants decryption (`decrypt: granted_to:`), never in quality rules; the result "
        "is `pii`.",
        "SELECT decrypt_det(c_phone) AS c_phone FROM contacts",
        None,
        keyed=True,
        reveals=True,
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
        "Keep the first character and the domain: j***@example.com. It keeps the whole value "
        "when it has no '@', so it does not clear `pii` (use mask_redact for that).",
        "SELECT mask_email(email) AS email FROM users",
        "masked",
    ),
    SqlFunction(
        "mask_phone",
        "mask_phone(phone) -> string",
        "Keep the last 4 characters, star the rest: ***********2988.",
        "SELECT mask_phone(c_phone) AS c_phone FROM customer",
        "masked",
        keeps=4,
    ),
    SqlFunction(
        "mask_partial",
        "mask_partial(value, keep) -> string",
        "Keep the first `keep` characters, star the rest (`pii` stays when `keep` is over 4).",
        "SELECT mask_partial(c_name, 3) AS c_name FROM customer",
        "masked",
        keep_arg=1,
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


class FunctionRegistry:
    """The SQL functions known to the mesh: the platform's built-ins and registered ones."""

    def __init__(self) -> None:
        self._functions: dict[str, SqlFunction] = {f.name: f for f in BUILTIN_FUNCTIONS}

    def register(self, function: SqlFunction) -> SqlFunction:
        """Add a function; a name registered twice (or reserved) is a platform bug."""
        if (
            function.name in self._functions
            or function.name in RESERVED
            or function.name.startswith(STEP_PREFIX)
        ):
            raise ValueError(f"SQL function {function.name!r} is registered twice or reserved")
        if (function.body is None) == bool(function.params):
            raise ValueError(f"SQL function {function.name!r}: give `params` with a `body`")
        self._functions[function.name] = function
        return function

    def all(self) -> list[SqlFunction]:
        """Every function, built-ins first, then registered ones by name."""
        builtin = [f.name for f in BUILTIN_FUNCTIONS]
        rest = sorted(n for n in self._functions if n not in builtin)
        return [self._functions[n] for n in (*builtin, *rest)]

    def defined(self) -> list[SqlFunction]:
        """The functions defined by a SQL expression (every engine builds them from it)."""
        return [f for f in self.all() if f.body is not None]

    def protections(self) -> dict[str, str]:
        """Function name -> the tag its result carries instead of `pii` (when it clears it)."""
        return {f.name: f.protects_as for f in self._functions.values() if f.protects_as}

    def tagging(self) -> dict[str, SqlFunction]:
        """The functions that change tags: protections and those revealing clear values."""
        return {n: f for n, f in self._functions.items() if f.protects_as or f.reveals}

    def keyed(self) -> frozenset[str]:
        """Names of the functions that need the keyring."""
        return frozenset(f.name for f in self._functions.values() if f.keyed)
