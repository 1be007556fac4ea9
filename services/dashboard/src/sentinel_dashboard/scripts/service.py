"""Analysis scripts: validated, stored under the tenant's and project's own prefix, listed with their digests.

Keys are ``tenants/<tenant_id>/projects/<project_id>/scripts/<name>``, the layout the analysis flow reads
scripts from. Uploading a name again replaces the script.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import re

import structlog

from sentinel_dashboard.scripts.payloads import MAX_SCRIPT_BYTES, SCRIPT_NAME_PATTERN, ScriptOut, ScriptUpload
from sentinel_service import ApiError
from sentinel_storage import ObjectInfo, ObjectNotFound, ObjectStore, StorageError, is_valid_key

log = structlog.get_logger("sentinel.scripts")

CONTENT_TYPE = "text/x-python; charset=utf-8"
MAX_SCRIPTS = 200  # per project; replacing a script of the same name is always allowed
MAX_LISTED = 500
_NAME = re.compile(SCRIPT_NAME_PATTERN)
_KEY = re.compile(r"^tenants/(?P<tenant>[^/]+)/projects/(?P<project>[^/]+)/scripts/(?P<name>[^/]+)$")


def scripts_prefix(tenant_id: str, project_id: str) -> str:
    return f"tenants/{tenant_id}/projects/{project_id}/scripts/"


def script_key(tenant_id: str, project_id: str, name: str) -> str:
    return scripts_prefix(tenant_id, project_id) + name


def parse_script_key(key: str) -> tuple[str, str, str] | None:
    """``(tenant_id, project_id, name)`` of a valid script key; None for anything else (traversal included)."""
    if not is_valid_key(key):
        return None
    match = _KEY.match(key)
    if match is None or not _NAME.match(match["name"]):
        return None
    return match["tenant"], match["project"], match["name"]


def storage_unavailable(exc: StorageError) -> ApiError:
    log.warning("object_store_failed", error=str(exc))
    return ApiError(503, "the object store is unavailable; retry later", error="storage_unavailable")


def _check_python(name: str, source: str) -> None:
    try:
        ast.parse(source, filename=name)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise ApiError(422, f"source is not valid Python{where}: {exc.msg}", field="source") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ApiError(422, f"source is not valid Python: {exc}", field="source") from None


async def upload(
    store: ObjectStore, tenant_id: str, project_id: str, data: ScriptUpload, *, uploaded_by: str
) -> ScriptOut:
    body = data.source.encode("utf-8", "surrogatepass")
    if len(body) > MAX_SCRIPT_BYTES:
        raise ApiError(
            413, f"source is {len(body)} bytes; a script may have at most {MAX_SCRIPT_BYTES}", field="source"
        )
    try:
        data.source.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, "source must be valid UTF-8 text", field="source") from None
    await asyncio.to_thread(_check_python, data.name, data.source)
    key = script_key(tenant_id, project_id, data.name)
    digest = hashlib.sha256(body).hexdigest()
    try:
        replaced = await store.exists(key)
        if not replaced:
            count = 0
            async for listed in store.list(scripts_prefix(tenant_id, project_id)):
                count += parse_script_key(listed.key) is not None
            if count >= MAX_SCRIPTS:
                raise ApiError(
                    409,
                    f"the project already has {count} scripts, the most it may keep; delete one or replace one"
                    " by uploading under its name",
                    error="limit_exceeded",
                    field="name",
                )
        info = await store.put(
            key, body, content_type=CONTENT_TYPE, metadata={"sha256": digest, "uploaded-by": uploaded_by}
        )
    except StorageError as exc:
        raise storage_unavailable(exc) from exc
    log.info("script_uploaded", project_id=project_id, key=key, size=info.size, replaced=replaced)
    return ScriptOut(
        name=data.name, key=key, size=info.size, sha256=digest, created_at=info.modified_ms, replaced=replaced
    )


async def delete(store: ObjectStore, tenant_id: str, project_id: str, name: str) -> ScriptOut:
    """Remove a script; 404 when the project has none of that name. Jobs that ran it keep their artifacts."""
    if not _NAME.match(name):
        raise ApiError(404, "no such script", error="not_found")
    key = script_key(tenant_id, project_id, name)
    try:
        head = await store.head(key)
        if head is None:
            raise ApiError(404, "no such script", error="not_found")
        await store.delete(key)
    except StorageError as exc:
        raise storage_unavailable(exc) from exc
    log.info("script_deleted", project_id=project_id, key=key)
    return ScriptOut(
        name=name, key=key, size=head.size, sha256=head.metadata.get("sha256", ""), created_at=head.modified_ms
    )


async def _described(store: ObjectStore, listed: ObjectInfo, gate: asyncio.Semaphore) -> ScriptOut | None:
    async with gate:
        head = await store.head(listed.key)
        if head is None:
            return None  # deleted while listing
        digest = head.metadata.get("sha256", "")
        if not digest:  # stored by other means: compute it once here
            try:
                digest = hashlib.sha256(await store.get(listed.key)).hexdigest()
            except ObjectNotFound:
                return None
    return ScriptOut(
        name=listed.key.rpartition("/")[2],
        key=listed.key,
        size=head.size,
        sha256=digest,
        created_at=head.modified_ms,
    )


async def list_scripts(store: ObjectStore, tenant_id: str, project_id: str) -> list[ScriptOut]:
    """The project's scripts by name (at most ``MAX_LISTED``), each with size, time and SHA-256."""
    gate = asyncio.Semaphore(16)
    try:
        listed = [info async for info in store.list(scripts_prefix(tenant_id, project_id))]
        listed = [info for info in listed if parse_script_key(info.key) is not None][:MAX_LISTED]
        described = await asyncio.gather(*(_described(store, info, gate) for info in listed))
    except StorageError as exc:
        raise storage_unavailable(exc) from exc
    return [script for script in described if script is not None]
