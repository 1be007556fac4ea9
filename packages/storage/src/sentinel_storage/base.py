"""The ``ObjectStore`` interface shared by the S3 and local-directory backends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Literal, Protocol, runtime_checkable

import msgspec

Backend = Literal["local", "s3"]

MAX_PRESIGN_TTL_S = 604_800  # seven days, SigV4's longest
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_METADATA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class ObjectInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One stored object. ``metadata`` and ``content_type`` are filled by ``head``; ``list`` leaves them empty."""

    key: str
    size: int
    modified_ms: int
    etag: str = ""
    content_type: str = ""
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata both backends keep the same way: lower-case names, printable ASCII values, 2 KiB at most."""
    if not metadata:
        return {}
    out: dict[str, str] = {}
    for name, value in metadata.items():
        if not _METADATA_NAME.match(name):
            raise ValueError(f"metadata name {name!r} must be lower-case letters, digits and '-' (1-64 characters)")
        if not isinstance(value, str) or not all(32 <= ord(char) < 127 for char in value):
            raise ValueError(f"metadata {name!r} must be printable ASCII")
        out[name] = value
    if sum(len(name) + len(value) for name, value in out.items()) > 2048:
        raise ValueError("metadata must total at most 2048 characters")
    return out


def check_ttl(ttl_s: int) -> int:
    if not isinstance(ttl_s, int) or not 1 <= ttl_s <= MAX_PRESIGN_TTL_S:
        raise ValueError(f"a presigned URL's lifetime must be 1 to {MAX_PRESIGN_TTL_S} seconds, got {ttl_s!r}")
    return ttl_s


@runtime_checkable
class ObjectStore(Protocol):
    """Objects by key in S3 or a directory. Keys are checked by ``sentinel_storage.check_key`` (``InvalidKey``);
    backend failures raise ``StorageError``; a missing object raises ``ObjectNotFound`` (``get``) or gives
    ``None`` (``head``)."""

    @property
    def backend(self) -> Backend:
        """``local`` or ``s3``."""
        ...

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``key`` (replacing any object there), atomically: readers see old or new bytes."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes."""
        ...

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The object's bytes in chunks, for objects too large to hold at once. ``ObjectNotFound`` on first read."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """The object's size, time, content type and metadata; ``None`` when there is none."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (a string prefix, as in S3), in key order."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    async def presign_get(self, key: str, ttl_s: int) -> str:
        """A URL that GETs the object without credentials until ``ttl_s`` seconds from now."""
        ...

    async def check(self) -> None:
        """Raise ``StorageError`` unless the store is reachable (bucket or directory); used by health checks."""
        ...

    async def close(self) -> None:
        """Release network clients."""
        ...
