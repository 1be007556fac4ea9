"""``S3ObjectStore``: objects in one S3 bucket through aioboto3 (SigV4, path-style addressing).

The endpoint is ``SENTINEL_ARCHIVE_ENDPOINT_URL`` (empty means AWS); credentials and region come from the
``SENTINEL_AWS_*`` section, or the default credential chain when those are empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from sentinel_config import ArchiveSettings, AwsSettings
from sentinel_storage.base import DEFAULT_CONTENT_TYPE, ObjectInfo, check_metadata, check_ttl
from sentinel_storage.errors import ObjectNotFound, StorageError
from sentinel_storage.keys import check_key, check_prefix

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3ObjectStore:
    """One bucket. The client opens on first use; ``close`` releases it."""

    backend: Literal["s3"] = "s3"

    def __init__(
        self,
        archive: ArchiveSettings,
        aws: AwsSettings,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        self.bucket = archive.bucket
        self.endpoint_url = archive.endpoint_url or None
        self._session = aioboto3.Session(
            aws_access_key_id=aws.access_key_id or None,
            aws_secret_access_key=aws.secret_access_key or None,
            region_name=aws.region,
        )
        self._config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
        )
        self._context: Any = None
        self._client: S3Client | None = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> S3Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    context = self._session.client("s3", endpoint_url=self.endpoint_url, config=self._config)
                    self._client = await context.__aenter__()
                    self._context = context
        return self._client

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        return StorageError(f"S3 bucket {self.bucket}: {action} {key!r} failed: {exc}")

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        check_key(key)
        meta = check_metadata(metadata)
        try:
            client = await self._s3()
            answer = await client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, Metadata=meta
            )
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._fail("put", key, exc) from exc
        info = await self.head(key)
        if info is None:  # read-after-write is strong on S3; a store that says otherwise is failing
            raise StorageError(f"S3 bucket {self.bucket}: {key!r} missing right after it was written")
        return ObjectInfo(
            key=key,
            size=info.size,
            modified_ms=info.modified_ms,
            etag=str(answer.get("ETag", info.etag)).strip('"'),
            content_type=content_type,
            metadata=meta,
        )

    async def get(self, key: str) -> bytes:
        check_key(key)
        try:
            client = await self._s3()
            answer = await client.get_object(Bucket=self.bucket, Key=key)
            body = answer["Body"]
            try:
                data: bytes = await body.read()
            finally:
                body.close()
            return data
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectNotFound(key) from None
            raise self._fail("get", key, exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._fail("get", key, exc) from exc

    async def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        check_key(key)
        try:
            client = await self._s3()
            answer = await client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectNotFound(key) from None
            raise self._fail("get", key, exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._fail("get", key, exc) from exc
        body = answer["Body"]
        try:
            while chunk := await body.read(chunk_size):
                yield chunk
        except (BotoCoreError, OSError) as exc:
            raise self._fail("get", key, exc) from exc
        finally:
            body.close()

    async def head(self, key: str) -> ObjectInfo | None:
        check_key(key)
        try:
            client = await self._s3()
            answer = await client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._fail("head", key, exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._fail("head", key, exc) from exc
        return ObjectInfo(
            key=key,
            size=int(answer.get("ContentLength", 0)),
            modified_ms=int(answer["LastModified"].timestamp() * 1000),
            etag=str(answer.get("ETag", "")).strip('"'),
            content_type=str(answer.get("ContentType", "")),
            metadata={name.lower(): value for name, value in answer.get("Metadata", {}).items()},
        )

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        check_prefix(prefix)
        try:
            client = await self._s3()
            paginator = client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"],
                        size=int(item.get("Size", 0)),
                        modified_ms=int(item["LastModified"].timestamp() * 1000),
                        etag=str(item.get("ETag", "")).strip('"'),
                    )
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._fail("list", prefix, exc) from exc

    async def delete(self, key: str) -> None:
        check_key(key)
        try:
            client = await self._s3()
            await client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._fail("delete", key, exc) from exc

    async def presign_get(self, key: str, ttl_s: int) -> str:
        check_key(key)
        check_ttl(ttl_s)
        try:
            client = await self._s3()
            url: str = await client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_s
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("presign", key, exc) from exc
        return url

    async def check(self) -> None:
        try:
            client = await self._s3()
            await client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise StorageError(f"S3 bucket {self.bucket} is unreachable: {exc}") from exc

    async def ensure_bucket(self) -> None:
        """Create the bucket when it is missing (local engines and development; production buckets are
        provisioned with their policies)."""
        try:
            client = await self._s3()
            try:
                await client.head_bucket(Bucket=self.bucket)
            except ClientError:
                await client.create_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise StorageError(f"S3 bucket {self.bucket} could not be created: {exc}") from exc

    async def close(self) -> None:
        async with self._lock:
            if self._context is not None:
                context, self._context, self._client = self._context, None, None
                await context.__aexit__(None, None, None)
