"""``GET /api/storage/objects``: the local backend's presigned URLs.

The signature (HMAC-SHA256 with a key derived from the server secret) is the only credential: no token is
needed, as with an S3 presigned URL. A bad or expired signature is a 403 that does not say which; a valid URL
for a missing object is a 404. With the S3 backend URLs point at S3, so this route answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream

from sentinel_dashboard.responses import errors
from sentinel_service import ApiError
from sentinel_storage import LOCAL_OBJECT_ROUTE, LocalObjectStore, LocalUrlSigner, ObjectNotFound


@get(
    LOCAL_OBJECT_ROUTE,
    summary="Read an object through a signed, expiring URL (local storage backend)",
    responses={
        200: ResponseSpec(
            bytes,
            media_type="*/*",
            description="The object, with the content type it was stored with",
            generate_examples=False,
        ),
        **errors(403, 404),
    },
)
async def read_signed_object(
    request: Request[Any, Any, Any],
    key: Annotated[str, Parameter(min_length=1, max_length=1024, description="Object key")],
    expires: Annotated[int, Parameter(ge=0, description="Unix seconds after which the URL is refused")],
    signature: Annotated[str, Parameter(max_length=128, description="Hex HMAC-SHA256 of the URL")],
) -> Stream:
    """Stream the object when the URL's signature matches and it has not expired."""
    store = request.app.state.objects
    signer: LocalUrlSigner = request.app.state.object_url_signer
    if not isinstance(store, LocalObjectStore):
        raise ApiError(404, "objects are served by the storage backend, not by this API", field="key")
    if not signer.verify(key, expires, signature):
        raise ApiError(403, "invalid or expired URL", error="invalid_signature")
    info = await store.head(key)
    if info is None:
        raise ApiError(404, "no such object", field="key")
    chunks = store.iter_chunks(key)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except ObjectNotFound:
        raise ApiError(404, "no such object", field="key") from None

    async def body() -> Any:
        yield first
        async for chunk in chunks:
            yield chunk

    return Stream(
        body(),
        media_type=info.content_type or "application/octet-stream",
        headers={"Cache-Control": "private, no-store"},
    )
