"""Identifiers: a short kind prefix and 22 base62 characters (≈131 bits), such as ``prj_4Vh2...``.

The prefix makes an id's kind visible in logs and lets routes reject a malformed id before any lookup.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Annotated, Literal

from msgspec import Meta

BASE62 = string.digits + string.ascii_letters
ID_BODY_LENGTH = 22

Kind = Literal["ten", "prj", "key", "tok", "job", "nod"]

TENANT_ID_PATTERN = rf"^ten_[0-9A-Za-z]{{{ID_BODY_LENGTH}}}$"
PROJECT_ID_PATTERN = rf"^prj_[0-9A-Za-z]{{{ID_BODY_LENGTH}}}$"
KEY_ID_PATTERN = rf"^key_[0-9A-Za-z]{{{ID_BODY_LENGTH}}}$"
TOKEN_ID_PATTERN = rf"^tok_[0-9A-Za-z]{{{ID_BODY_LENGTH}}}$"
JOB_ID_PATTERN = rf"^job_[0-9A-Za-z]{{{ID_BODY_LENGTH}}}$"

TenantId = Annotated[str, Meta(pattern=TENANT_ID_PATTERN, description="Tenant id, ten_ and 22 base62 characters")]
ProjectId = Annotated[str, Meta(pattern=PROJECT_ID_PATTERN, description="Project id, prj_ and 22 base62 characters")]
KeyId = Annotated[str, Meta(pattern=KEY_ID_PATTERN, description="Ingest key id, key_ and 22 base62 characters")]
TokenId = Annotated[str, Meta(pattern=TOKEN_ID_PATTERN, description="Token id, tok_ and 22 base62 characters")]
JobId = Annotated[str, Meta(pattern=JOB_ID_PATTERN, description="Job id, job_ and 22 base62 characters")]

_PATTERNS = {
    "ten": re.compile(TENANT_ID_PATTERN),
    "prj": re.compile(PROJECT_ID_PATTERN),
    "key": re.compile(KEY_ID_PATTERN),
    "tok": re.compile(TOKEN_ID_PATTERN),
    "job": re.compile(JOB_ID_PATTERN),
}


def random_base62(length: int) -> str:
    """``length`` characters from a cryptographic random source."""
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_id(kind: Kind) -> str:
    """A fresh id of the given kind."""
    return f"{kind}_{random_base62(ID_BODY_LENGTH)}"


def is_id(kind: Kind, value: str) -> bool:
    """True when ``value`` is a well-formed id of ``kind``."""
    pattern = _PATTERNS.get(kind)
    return bool(pattern and pattern.match(value))
