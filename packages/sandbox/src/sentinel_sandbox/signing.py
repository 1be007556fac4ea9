"""Verify ``X-Sentinel-Signature`` on a sandbox callback (scripts sign with ``sentinel_sandbox.callback.sign``).

Header: ``t=<unix seconds>,v1=<hex HMAC-SHA256(job secret, "<t>." + raw body)>``. Unknown ``key=value`` parts
are ignored so a later scheme can be added beside ``v1``; several ``v1`` parts are allowed, one must match.

Verification is stateless: it checks who signed the body and that the timestamp is recent. A replayed
callback inside the tolerance window verifies again; refusing a second effect is the webhook's job (it keeps
the digest of the first accepted body per job and answers a repeat the same way).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

from sentinel_sandbox.callback import SIGNATURE_HEADER, sign

__all__ = ["SIGNATURE_HEADER", "SignatureCheck", "SignatureFailure", "job_secret", "sign", "verify"]

MAX_HEADER_LENGTH = 1024


def job_secret(server_secret: str, job_id: str) -> str:
    """The secret a job's script signs its callback with: derived from the server secret and the job id, so it is
    never stored; whichever process starts the script and the webhook that checks it derive the same one."""
    return hmac.new(server_secret.encode(), f"sentinel job-callback v1:{job_id}".encode(), hashlib.sha256).hexdigest()


_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class SignatureFailure(StrEnum):
    """Why a signature was refused."""

    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"
    FUTURE = "future"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The verdict of ``verify``: true when valid, else ``failure`` and a one-line ``detail`` (safe to log)."""

    failure: SignatureFailure | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def __bool__(self) -> bool:
        return self.failure is None


def _refuse(failure: SignatureFailure, detail: str) -> SignatureCheck:
    return SignatureCheck(failure, detail)


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    now: int,
    tolerance_s: int = 300,
    future_skew_s: int = 60,
) -> SignatureCheck:
    """Check ``header`` against ``body`` at unix time ``now``; never raises.

    Refuses a missing or malformed header, a signature that does not match (compared in constant time), a
    timestamp more than ``tolerance_s`` old, and one more than ``future_skew_s`` ahead of ``now``.
    """
    if header is None or not header.strip():
        return _refuse(SignatureFailure.MISSING, f"{SIGNATURE_HEADER} header is missing")
    if len(header) > MAX_HEADER_LENGTH:
        return _refuse(SignatureFailure.MALFORMED, f"header longer than {MAX_HEADER_LENGTH} characters")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return _refuse(SignatureFailure.MALFORMED, "every part must be key=value")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        return _refuse(SignatureFailure.MALFORMED, "expected exactly one t=<unix seconds>")
    if not signatures or not all(_HEX_SHA256.fullmatch(sig) for sig in signatures):
        return _refuse(SignatureFailure.MALFORMED, "expected v1=<64 lowercase hex digits>")
    t = int(timestamps[0])
    expected = sign(secret, body, t).rpartition("v1=")[2]
    # Every candidate is compared, so the time taken does not tell which one matched.
    matched = [hmac.compare_digest(expected, sig) for sig in signatures]
    if not any(matched):
        return _refuse(SignatureFailure.BAD_SIGNATURE, "signature does not match the body")
    if now - t > tolerance_s:
        return _refuse(SignatureFailure.STALE, f"timestamp is {now - t} s old, more than {tolerance_s} s")
    if t - now > future_skew_s:
        return _refuse(SignatureFailure.FUTURE, f"timestamp is {t - now} s ahead, more than {future_skew_s} s")
    return SignatureCheck()
