"""Helpers for tests that run a store against the ``s3_server`` fixture (SeaweedFS) or a temporary directory."""

from __future__ import annotations

import uuid
from typing import Protocol

from sentinel_config import ArchiveSettings, AwsSettings


class S3Engine(Protocol):
    url: str
    access_key: str
    secret_key: str
    region: str


def s3_settings(engine: S3Engine, *, bucket: str | None = None) -> tuple[ArchiveSettings, AwsSettings]:
    """Archive and AWS sections pointing at ``engine``; a fresh bucket name unless ``bucket`` is given."""
    archive = ArchiveSettings(backend="s3", bucket=bucket or f"test-{uuid.uuid4().hex[:16]}", endpoint_url=engine.url)
    aws = AwsSettings(region=engine.region, access_key_id=engine.access_key, secret_access_key=engine.secret_key)
    return archive, aws
