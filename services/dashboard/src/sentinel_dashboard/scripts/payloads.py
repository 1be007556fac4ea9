"""Request and response bodies of the script routes."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

SCRIPT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,95}\.py$"
MAX_SCRIPT_BYTES = 256 * 1024  # analysis scripts are code, not data: data reaches them through a presigned URL


class ScriptUpload(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[
        str,
        Meta(
            pattern=SCRIPT_NAME_PATTERN,
            description="File name: letters, digits, '_' or '-', ending in .py (at most 99 characters)",
        ),
    ]
    source: Annotated[str, Meta(min_length=1, description="The script's Python source (UTF-8, at most 256 KiB)")]


class ScriptOut(msgspec.Struct, kw_only=True):
    name: str
    key: str
    size: int
    sha256: str
    created_at: int
    replaced: bool = False


class ScriptList(msgspec.Struct, kw_only=True):
    items: list[ScriptOut]


class PresignedUrl(msgspec.Struct, kw_only=True):
    key: str
    url: str
    expires_at: int
