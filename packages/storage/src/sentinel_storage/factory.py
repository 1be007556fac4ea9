"""``open_object_store``: the backend ``SENTINEL_ARCHIVE_BACKEND`` names."""

from __future__ import annotations

from pathlib import Path

from sentinel_config import ArchiveSettings, AwsSettings
from sentinel_storage.base import ObjectStore
from sentinel_storage.local import LocalObjectStore
from sentinel_storage.s3 import S3ObjectStore
from sentinel_storage.signing import LocalUrlSigner


def open_object_store(
    archive: ArchiveSettings,
    aws: AwsSettings | None = None,
    *,
    url_signer: LocalUrlSigner | None = None,
) -> ObjectStore:
    """The store of ``archive``: an S3 bucket, or the local directory ``archive.local_dir``.

    ``url_signer`` lets the local backend presign URLs (served by the dashboard's ``/api/storage/objects``);
    without it the local ``presign_get`` raises ``PresignUnavailable``. S3 presigns its own URLs.
    """
    if archive.backend == "s3":
        return S3ObjectStore(archive, aws or AwsSettings())
    return LocalObjectStore(Path(archive.local_dir), signer=url_signer)
