"""Read a request body within limits: compressed size while receiving, decompressed size while inflating.

A gzip bomb never gets further than the decompressed limit plus one chunk: inflation stops as soon as the
output would pass it. A client that goes away mid-body gets a 400 (in the log, not a server error).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from litestar.exceptions import InternalServerException

from sentinel_service import ApiError
from sentinel_types import limits

_CHUNK = 256 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_DRAINED = 2  # a refused body up to this many times the limit is read to its end before the 413


def content_encoding(header: str | None) -> str:
    """``gzip`` or ``identity``; anything else is a 415 naming what is accepted."""
    value = (header or "identity").strip().lower()
    if value in ("", "identity"):
        return "identity"
    if value in ("gzip", "x-gzip"):
        return "gzip"
    raise ApiError(
        415,
        f"Content-Encoding {header!r} is not supported: send gzip or no encoding",
        error="unsupported_encoding",
        field="Content-Encoding",
    )


def _too_large(what: str, limit: int) -> ApiError:
    return ApiError(
        413,
        f"the {what} body exceeds {limit} bytes: send smaller batches",
        error="payload_too_large",
        field="body",
    )


async def read_body(
    chunks: AsyncIterator[bytes],
    declared_length: str | None,
    encoding: str,
    *,
    max_compressed: int = limits.MAX_BATCH_BYTES_COMPRESSED,
    max_decompressed: int = limits.MAX_BATCH_BYTES_DECOMPRESSED,
) -> bytes:
    """The body, decompressed, or ``ApiError`` 413 (too large) / 400 (corrupt gzip, empty, cut off)."""
    what = "compressed" if encoding == "gzip" else "request"
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > max_compressed:
        if int(declared_length) <= _DRAINED * max_compressed:
            await discard_rest(chunks, 0, _DRAINED * max_compressed)
        raise _too_large(what, max_compressed)
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_compressed:
                await discard_rest(chunks, size, _DRAINED * max_compressed)
                raise _too_large(what, max_compressed)
            parts.append(chunk)
    except InternalServerException as exc:
        # Litestar's way of saying the client went away mid-body: the client's fault, not a server error.
        if "disconnect" not in str(exc.detail):
            raise
        raise ApiError(
            400,
            f"the client closed the connection after {size} bytes of the body: send the whole body",
            error="incomplete_body",
            field="body",
        ) from None
    raw = b"".join(parts)
    if not raw:
        raise ApiError(400, "the request body is empty: send an event batch", error="invalid_batch", field="$")
    if encoding == "identity":
        if len(raw) > max_decompressed:
            raise _too_large("decompressed", max_decompressed)
        return raw
    return inflate(raw, max_decompressed)


async def discard_rest(chunks: AsyncIterator[bytes], size: int, cap: int) -> None:
    """Read and drop the rest of a refused body, up to ``cap`` bytes in all.

    Answered with its body unread, a client still sending gets a connection reset instead of the 413 that says why;
    a body more than ``_DRAINED`` times the limit is not worth reading, and gets the reset.
    """
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > cap:
                return
    except InternalServerException:
        return  # the client went away: nobody reads the answer


def inflate(raw: bytes, limit: int) -> bytes:
    """Gunzip ``raw`` without ever producing more than ``limit`` bytes, member after member (RFC 1952 allows a
    body of several gzip members, concatenated; the limit counts them all)."""
    out: list[bytes] = []
    produced = 0
    pending: bytes = raw
    try:
        while True:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            while True:
                piece = inflater.decompress(pending, _CHUNK)
                produced += len(piece)
                if produced > limit:
                    raise _too_large("decompressed", limit)
                out.append(piece)
                pending = inflater.unconsumed_tail
                if inflater.eof or (not piece and not pending):
                    break
            if not inflater.eof:
                raise ApiError(400, "the gzip body is truncated", error="invalid_encoding", field="body")
            pending = inflater.unused_data
            if not pending:
                break
            if not pending.startswith(_GZIP_MAGIC):
                raise ApiError(400, "the gzip body has trailing data", error="invalid_encoding", field="body")
    except zlib.error as exc:
        raise ApiError(400, f"the body is not valid gzip: {exc}", error="invalid_encoding", field="body") from exc
    return b"".join(out)
