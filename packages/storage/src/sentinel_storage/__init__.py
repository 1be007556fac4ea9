"""Object storage for Sentinel: one ``ObjectStore`` interface over an S3 bucket and a local directory.

    store = open_object_store(settings.archive, settings.aws, url_signer=signer)
    await store.put("tenants/t1/projects/p1/scripts/report.py", body, content_type="text/x-python")
    url = await store.presign_get("tenants/t1/projects/p1/scripts/report.py", ttl_s=300)
    async for info in store.list("bronze/project=p1/"):
        ...

Keys are validated the same way for both backends (``check_key``). The local backend's presigned URLs are
HMAC-signed and served by the dashboard; S3's are SigV4 presigned URLs.
"""

from sentinel_storage.base import MAX_PRESIGN_TTL_S, Backend, ObjectInfo, ObjectStore
from sentinel_storage.errors import InvalidKey, ObjectNotFound, PresignUnavailable, StorageError
from sentinel_storage.factory import open_object_store
from sentinel_storage.keys import check_key, check_prefix, is_valid_key, join_key
from sentinel_storage.local import LocalObjectStore
from sentinel_storage.s3 import S3ObjectStore
from sentinel_storage.signing import LOCAL_OBJECT_ROUTE, LocalUrlSigner

__all__ = [
    "LOCAL_OBJECT_ROUTE",
    "MAX_PRESIGN_TTL_S",
    "Backend",
    "InvalidKey",
    "LocalObjectStore",
    "LocalUrlSigner",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "PresignUnavailable",
    "S3ObjectStore",
    "StorageError",
    "check_key",
    "check_prefix",
    "is_valid_key",
    "join_key",
    "open_object_store",
]
