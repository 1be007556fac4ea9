"""Signed, expiring GET URLs for the local backend, served by the dashboard (S3 presigns its own URLs).

A URL is ``<base_url><route>?key=<key>&expires=<unix seconds>&signature=<hex>`` where the signature is
HMAC-SHA256 over ``"GET\\n" + key + "\\n" + expires`` with a key derived from the server secret. Whoever verifies
needs the same server secret; the comparison is constant-time and an expired URL fails however valid its
signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from sentinel_storage.keys import is_valid_key

LOCAL_OBJECT_ROUTE = "/api/storage/objects"


class LocalUrlSigner:
    """Signs and verifies local object URLs.

    ``secret`` is the server secret (``SENTINEL_CONTROL_HASH_SECRET`` in the services); the signing key is derived
    from it with its own label so it never equals a key used for anything else. ``base_url`` is where the serving
    route is reachable, e.g. ``http://127.0.0.1:8300``.
    """

    def __init__(self, secret: str, base_url: str, *, route: str = LOCAL_OBJECT_ROUTE) -> None:
        if len(secret) < 32:
            raise ValueError("the URL signing secret must be at least 32 characters")
        self._key = hmac.new(secret.encode(), b"sentinel object-url v1", hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")
        self.route = route

    def signature(self, key: str, expires: int) -> str:
        return hmac.new(self._key, f"GET\n{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, key: str, ttl_s: int, *, now: float | None = None) -> str:
        """A URL for ``key`` valid until ``ttl_s`` seconds from ``now``."""
        expires = int(now if now is not None else time.time()) + ttl_s
        query = urlencode({"key": key, "expires": expires, "signature": self.signature(key, expires)})
        return f"{self.base_url}{self.route}?{query}"

    def verify(self, key: str, expires: int, signature: str, *, now: float | None = None) -> bool:
        """Whether the signature matches (constant-time), the URL has not expired and the key is valid."""
        expected = self.signature(key, expires)
        matches = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
        fresh = expires >= int(now if now is not None else time.time())
        return matches and fresh and is_valid_key(key)
