"""Short-lived SSE access tokens for browsers, whose ``EventSource`` cannot send an Authorization header.

``POST /api/sse-tokens`` mints ``sse_<payload>.<signature>``: the payload names the tenant, the project, the
dashboard token it was minted with and the expiry; the signature is HMAC-SHA256 with a key derived from the
server secret. Nothing is stored. On connect the signature, the expiry, the project and the minting token
(still usable, not revoked) are checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec

PREFIX = "sse_"


class SseClaims(msgspec.Struct, frozen=True):
    tenant_id: str
    project_id: str
    token_id: str
    expires_at: int


class SseTokenSigner:
    def __init__(self, server_secret: str) -> None:
        self._key = hmac.new(server_secret.encode(), b"sentinel sse-token v1", hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def mint(self, claims: SseClaims) -> str:
        payload = msgspec.json.encode(claims)
        return f"{PREFIX}{_b64(payload)}.{_b64(self._sign(payload))}"

    def verify(self, token: str, now_ms: int) -> SseClaims | None:
        """The claims of a well-signed, unexpired token; None otherwise."""
        if not token.startswith(PREFIX) or token.count(".") != 1 or len(token) > 1024:
            return None
        encoded, _, signature = token[len(PREFIX) :].partition(".")
        try:
            payload = _unb64(encoded)
            if not hmac.compare_digest(self._sign(payload), _unb64(signature)):
                return None
            claims = msgspec.json.decode(payload, type=SseClaims)
        except (ValueError, msgspec.DecodeError):
            return None
        return claims if claims.expires_at > now_ms else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
