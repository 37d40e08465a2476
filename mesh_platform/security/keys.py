"""Keys for the security standards: a keyring of named keys, one of them current.

The keyring is built by `build_keyring` (from `MESH_KEY_<ID>` variables, or a derived dev key
outside prod) and handed to the engine as the `keys` resource. Key material never leaves this
module as text: `repr`, errors and metadata name key ids only. Each key id travels with the
ciphertext it produced, so a new current key can be added while old ciphertext still decrypts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from mesh_platform.config import environment
from mesh_platform.errors import PlatformError

KEY_ID_PATTERN = r"^[a-z0-9]{1,16}$"
MIN_KEY_BYTES = 32
DEV_KEY_ID = "dev"


class KeyUnavailable(PlatformError):
    """A key the run needs is not configured (the message names the variable to set)."""


def derive_dev_key(key_id: str) -> bytes:
    """A deterministic, public development key: for local and branch runs and tests only."""
    return hashlib.sha256(f"mesh-dev-key:{key_id}".encode()).digest()


def _subkey(master: bytes, purpose: str, size: int) -> bytes:
    # One master key per id; purpose-bound subkeys (HKDF-SHA256, RFC 5869) so a token key
    # never equals a cipher key.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(
        algorithm=hashes.SHA256(), length=size, salt=None, info=f"mesh/{purpose}".encode()
    ).derive(master)


class Keyring:
    """Named master keys, one current; gives purpose-bound subkeys, never prints them."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        current: str | None,
        missing_hint: str = "set MESH_KEY_<ID> (32+ random bytes, hex) and MESH_KEY_CURRENT",
    ) -> None:
        for key_id, material in keys.items():
            if not re.match(KEY_ID_PATTERN, key_id):
                raise ValueError(f"key id {key_id!r} must match {KEY_ID_PATTERN}")
            if len(material) < MIN_KEY_BYTES:
                raise ValueError(f"key {key_id!r} is shorter than {MIN_KEY_BYTES} bytes")
        if current is not None and current not in keys:
            raise KeyUnavailable(
                f"the current key id {current!r} has no key material; "
                f"known key ids: {', '.join(sorted(keys)) or '(none)'}. Fix: {missing_hint}"
            )
        self._keys = dict(keys)
        self._current = current
        self._hint = missing_hint

    @classmethod
    def dev(cls, *key_ids: str) -> Keyring:
        """A keyring of derived dev keys (the last id current), for local runs and tests."""
        ids = key_ids or (DEV_KEY_ID,)
        return cls({k: derive_dev_key(k) for k in ids}, ids[-1])

    def __repr__(self) -> str:
        return f"Keyring(key_ids={sorted(self._keys)}, current={self._current!r})"

    __str__ = __repr__

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id that can decrypt, sorted."""
        return tuple(sorted(self._keys))

    @property
    def available(self) -> bool:
        """Whether a current key is configured."""
        return self._current is not None

    def require(self) -> None:
        """Raise KeyUnavailable (naming the variable to set) unless a current key is set."""
        _ = self.current_id

    @property
    def current_id(self) -> str:
        """The id of the key new ciphertext and tokens use."""
        if self._current is None:
            raise KeyUnavailable(f"no encryption key is configured. Fix: {self._hint}")
        return self._current

    def _master(self, key_id: str) -> bytes:
        material = self._keys.get(key_id)
        if material is None:
            raise KeyUnavailable(
                f"no key with id {key_id!r} (known: {', '.join(self.key_ids) or '(none)'}). "
                f"Fix: set MESH_KEY_{key_id.upper()}"
            )
        return material

    def cipher_key(self, key_id: str) -> bytes:
        """The 64-byte AES-256-SIV key of `key_id`."""
        return _subkey(self._master(key_id), "siv", 64)

    def token_key(self, key_id: str | None = None) -> bytes:
        """The HMAC-SHA256 key for pseudonymization tokens (current key by default).

        256 random bits written as 64 hex characters: the native HMAC (polars-hash) takes its
        key as text, and every implementation must agree on the same key bytes.
        """
        return _subkey(self._master(key_id or self.current_id), "token", 32).hex().encode()


def build_keyring() -> Keyring:
    """The keys of this environment: `MESH_KEY_<ID>` (hex) and `MESH_KEY_CURRENT`.

    Outside prod, with no key configured, a derived dev key (public, deterministic) is used so
    that local runs and tests work; in prod a missing key fails the run that needs it, naming
    the variable to set. Values are never echoed.

    A key setting that is wrong (not hex, too short, a current id with no key) is not raised
    here, where it would take down every product of the code location: the keyring is built
    empty with the problem as its message, so only the products that need a key fail, each
    with that one message naming the variable to fix.
    """
    try:
        keys, current = environment.key_material()
        current = current or (max(keys) if keys else None)
        if not keys and not environment.is_prod():
            return Keyring.dev()
        return Keyring(keys, current if keys else None)
    except (ValueError, KeyUnavailable) as exc:
        return Keyring({}, None, missing_hint=f"the key settings are wrong: {exc}")
