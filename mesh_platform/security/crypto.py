"""Deterministic encryption (AES-SIV) and keyed tokens (HMAC-SHA256) over batches of values.

Ciphertext is text: `mesh1:<key id>:<base64>`. The same value and key always give the same
ciphertext (AES-SIV without a nonce), so encrypted columns still join and group; the key id
inside lets a rotated keyring pick the right key to decrypt. Tokens are the hex HMAC-SHA256 of
the value's UTF-8 text under the keyring's token key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

import pyarrow as pa

from mesh_platform.errors import BusinessLogicError
from mesh_platform.security.keys import Keyring

PREFIX = "mesh1"


class DecryptionFailed(BusinessLogicError, ValueError):
    """A value is not ciphertext of this keyring (or was tampered with)."""


def _siv(keyring: Keyring, key_id: str):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV  # heavy: lazily

    return AESSIV(keyring.cipher_key(key_id))


def encrypt_values(keyring: Keyring, values: Iterable[str | None]) -> list[str | None]:
    """Encrypt with the current key; each distinct value is encrypted once per batch."""
    key_id = keyring.current_id
    siv = _siv(keyring, key_id)
    header = f"{PREFIX}:{key_id}:"
    aad = [key_id.encode()]
    seal, b64 = siv.encrypt, base64.b64encode  # bound once: this loop is the hot path
    done: dict[str, str] = {}

    def one(value: str) -> str:
        cipher = done.get(value)
        if cipher is None:
            cipher = done[value] = header + b64(seal(value.encode(), aad)).decode()
        return cipher

    return [None if value is None else one(value) for value in values]


def decrypt_values(keyring: Keyring, values: Iterable[str | None]) -> list[str | None]:
    """Decrypt ciphertext made by `encrypt_values` with any key of the keyring."""
    from cryptography.exceptions import InvalidTag

    sivs: dict[str, object] = {}
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        prefix, _, rest = value.partition(":")
        key_id, _, body = rest.partition(":")
        if prefix != PREFIX or not body:
            raise DecryptionFailed("value is not Mesh ciphertext (expected 'mesh1:<key id>:...')")
        siv = sivs.get(key_id) or sivs.setdefault(key_id, _siv(keyring, key_id))
        try:
            plain = siv.decrypt(base64.b64decode(body), [key_id.encode()])  # type: ignore[attr-defined]
        except InvalidTag:
            raise DecryptionFailed(
                f"ciphertext does not authenticate under key {key_id!r}"
            ) from None
        out.append(plain.decode())
    return out


def decrypt(keyring: Keyring, value: str | None) -> str | None:
    """Decrypt one value (for authorized code: support tools, reverse ETL, tests)."""
    return decrypt_values(keyring, [value])[0]


def token(keyring: Keyring, value: str | None) -> str | None:
    """The pseudonymization token of one value: the reference the SQL function matches."""
    if value is None:
        return None
    return hmac.new(keyring.token_key(), value.encode(), hashlib.sha256).hexdigest()


def hmac_tokens(token_key: bytes, values: pa.Array) -> pa.Array:
    """HMAC-SHA256 hex tokens of string values, computed natively in bulk (nulls stay null)."""
    import polars as pl
    import polars_hash as plh

    frame = pl.DataFrame({"v": pl.Series(values=values, dtype=pl.String)})
    tokens = frame.select(plh.col("v").chash.hmac_sha256(key=token_key.decode())).to_series()
    # Polars' own string layout (Arrow string_view) is handed over without a copy.
    return tokens.to_arrow(compat_level=pl.CompatLevel.newest())
