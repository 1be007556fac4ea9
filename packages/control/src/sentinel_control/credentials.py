"""Ingest keys and dashboard tokens: generated once, shown once, stored only as a keyed hash.

A secret is ``<prefix>_<43 base62 characters>`` (≈256 bits of entropy). Its first 8 characters after the
prefix are kept in clear as a visible hint (``snt_4Vh2x9Qa…``) so people can tell keys apart. The store keeps
``HMAC-SHA256(server secret, secret)``: a leaked table cannot be used to ingest or sign in, and a stolen server
secret alone cannot recover keys. Comparisons use ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import msgspec

from sentinel_control.ids import random_base62

INGEST_KEY_PREFIX = "snt"
TOKEN_PREFIX = "sdt"  # noqa: S105 - a prefix, not a secret
SECRET_BODY_LENGTH = 43  # 43 * log2(62) ≈ 256 bits
VISIBLE_LENGTH = 8
MIN_SERVER_SECRET_LENGTH = 32

_SHAPE = re.compile(rf"^(snt|sdt)_[0-9A-Za-z]{{{SECRET_BODY_LENGTH}}}$")


class IssuedSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A freshly generated secret: ``value`` is shown once; only ``hash`` and ``visible`` are stored."""

    value: str
    hash: str
    visible: str


class SecretHasher:
    """Keyed hashing of presented secrets with the server secret (``SENTINEL_CONTROL_HASH_SECRET``)."""

    def __init__(self, server_secret: str) -> None:
        if len(server_secret) < MIN_SERVER_SECRET_LENGTH:
            raise ValueError(f"the server secret must be at least {MIN_SERVER_SECRET_LENGTH} characters")
        self._key = server_secret.encode()

    def hash(self, secret: str) -> str:
        """Hex HMAC-SHA256 of ``secret``."""
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def matches(self, secret: str, stored_hash: str) -> bool:
        """Constant-time check of a presented secret against a stored hash."""
        return hmac.compare_digest(self.hash(secret), stored_hash)

    def issue(self, prefix: str) -> IssuedSecret:
        """Generate a secret with ``prefix`` (``snt`` for ingest keys, ``sdt`` for dashboard tokens)."""
        value = f"{prefix}_{random_base62(SECRET_BODY_LENGTH)}"
        return IssuedSecret(value=value, hash=self.hash(value), visible=visible_part(value))


def visible_part(secret: str) -> str:
    """The part of a secret that may be shown again: its prefix and first characters."""
    prefix, _, body = secret.partition("_")
    return f"{prefix}_{body[:VISIBLE_LENGTH]}"


def looks_like(secret: str, prefix: str) -> bool:
    """Cheap shape check before hashing: right prefix, right length, base62 only."""
    return secret.startswith(prefix + "_") and bool(_SHAPE.match(secret))
