"""The same behaviour from both backends: SeaweedFS S3 and a local directory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sentinel_config import ArchiveSettings
from sentinel_storage import (
    InvalidKey,
    LocalObjectStore,
    LocalUrlSigner,
    ObjectNotFound,
    ObjectStore,
    PresignUnavailable,
    S3ObjectStore,
    StorageError,
    open_object_store,
)
from sentinel_storage.testing import s3_settings

SECRET = "contract-secret-" * 3


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    if request.param == "local":
        archive = ArchiveSettings(backend="local", local_dir=str(tmp_path / "store"))
        opened = open_object_store(archive, url_signer=LocalUrlSigner(SECRET, "http://127.0.0.1:1"))
        assert isinstance(opened, LocalObjectStore)
    else:
        s3_server: Any = request.getfixturevalue("s3_server")
        archive, aws = s3_settings(s3_server)
        opened = open_object_store(archive, aws)
        assert isinstance(opened, S3ObjectStore)
        await opened.ensure_bucket()
    try:
        yield opened
    finally:
        await opened.close()


async def _keys(store: ObjectStore, prefix: str = "") -> list[str]:
    return [info.key async for info in store.list(prefix)]


class TestObjectStoreContract:
    async def test_put_then_get_and_head(self, store: ObjectStore) -> None:
        info = await store.put(
            "t/p/scripts/a.py", b"print(1)\n", content_type="text/x-python", metadata={"sha256": "abc"}
        )
        assert (info.key, info.size) == ("t/p/scripts/a.py", 9)
        assert await store.get("t/p/scripts/a.py") == b"print(1)\n"
        head = await store.head("t/p/scripts/a.py")
        assert head is not None
        assert (head.size, head.content_type, head.metadata) == (9, "text/x-python", {"sha256": "abc"})
        assert head.modified_ms > 1_600_000_000_000
        assert await store.exists("t/p/scripts/a.py")

    async def test_overwrite_replaces_bytes_and_metadata(self, store: ObjectStore) -> None:
        await store.put("k/x", b"one", metadata={"v": "1"})
        await store.put("k/x", b"second")
        assert await store.get("k/x") == b"second"
        head = await store.head("k/x")
        assert head is not None
        assert (head.size, head.metadata) == (6, {})

    async def test_missing_object(self, store: ObjectStore) -> None:
        assert await store.head("no/such") is None
        assert not await store.exists("no/such")
        with pytest.raises(ObjectNotFound):
            await store.get("no/such")
        with pytest.raises(ObjectNotFound):
            async for _ in store.iter_chunks("no/such"):
                pass

    async def test_iter_chunks_yields_the_whole_object(self, store: ObjectStore) -> None:
        body = bytes(range(256)) * 1000
        await store.put("big/obj", body)
        chunks = [chunk async for chunk in store.iter_chunks("big/obj", chunk_size=10_000)]
        assert b"".join(chunks) == body
        assert len(chunks) > 1

    async def test_list_is_a_string_prefix_in_key_order(self, store: ObjectStore) -> None:
        for key in ["l/b/2", "l/b/1", "l/bc/1", "l/a", "m/1"]:
            await store.put(key, key.encode())
        assert await _keys(store, "l/b") == ["l/b/1", "l/b/2", "l/bc/1"]
        assert await _keys(store, "l/b/") == ["l/b/1", "l/b/2"]
        assert await _keys(store, "l/") == ["l/a", "l/b/1", "l/b/2", "l/bc/1"]
        assert await _keys(store, "nothing/") == []
        sizes = {info.key: info.size async for info in store.list("l/")}
        assert sizes["l/bc/1"] == len(b"l/bc/1")

    async def test_delete_is_idempotent(self, store: ObjectStore) -> None:
        await store.put("d/1", b"x")
        await store.delete("d/1")
        await store.delete("d/1")
        assert not await store.exists("d/1")
        assert await _keys(store, "d/") == []

    @pytest.mark.parametrize("key", ["../escape", "/abs", "a/../../b", "a\\b", "a\x00", "", ".meta/x"])
    async def test_invalid_keys_are_refused_by_every_operation(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(InvalidKey):
            await store.put(key, b"x")
        with pytest.raises(InvalidKey):
            await store.get(key)
        with pytest.raises(InvalidKey):
            await store.head(key)
        with pytest.raises(InvalidKey):
            await store.delete(key)
        with pytest.raises(InvalidKey):
            await store.presign_get(key, 60)

    async def test_bad_ttl_is_refused(self, store: ObjectStore) -> None:
        with pytest.raises(ValueError, match="lifetime"):
            await store.presign_get("k", 0)
        with pytest.raises(ValueError, match="lifetime"):
            await store.presign_get("k", 604_801)

    async def test_check_passes_on_a_usable_store(self, store: ObjectStore) -> None:
        await store.check()


class TestS3PresignedUrls:
    async def test_presigned_url_fetches_tampered_and_expired_do_not(self, s3_server: Any) -> None:
        archive, aws = s3_settings(s3_server)
        store = S3ObjectStore(archive, aws)
        await store.ensure_bucket()
        try:
            await store.put("tenants/t1/obj.txt", b"secret bytes")
            await store.put("tenants/t2/obj.txt", b"other tenant")
            url = await store.presign_get("tenants/t1/obj.txt", 60)
            async with httpx.AsyncClient() as client:
                ok = await client.get(url)
                assert (ok.status_code, ok.content) == (200, b"secret bytes")
                tampered = url.replace("tenants/t1/", "tenants/t2/")
                assert tampered != url
                assert (await client.get(tampered)).status_code == 403
                short = await store.presign_get("tenants/t1/obj.txt", 1)
                await asyncio.sleep(2.2)
                expired = await client.get(short)
                assert expired.status_code == 403
        finally:
            await store.close()

    async def test_unreachable_endpoint_is_a_storage_error(self) -> None:
        archive = ArchiveSettings(backend="s3", endpoint_url="http://127.0.0.1:9")
        store = S3ObjectStore(archive, s3_settings_stub(), connect_timeout_s=0.5, read_timeout_s=0.5)
        try:
            with pytest.raises(StorageError, match="unreachable"):
                await store.check()
            with pytest.raises(StorageError):
                await store.get("k")
        finally:
            await store.close()


def s3_settings_stub() -> Any:
    from sentinel_config import AwsSettings

    return AwsSettings(access_key_id="x", secret_access_key="y")


class TestLocalStore:
    async def test_symlink_out_of_the_root_is_refused(self, tmp_path: Path) -> None:
        root = tmp_path / "root"
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret").write_text("no")
        root.mkdir()
        (root / "link").symlink_to(outside)
        store = LocalObjectStore(root)
        with pytest.raises(InvalidKey, match="outside"):
            await store.get("link/secret")
        with pytest.raises(InvalidKey, match="outside"):
            await store.put("link/new", b"x")
        assert not (outside / "new").exists()

    async def test_hidden_files_are_not_listed(self, tmp_path: Path) -> None:
        store = LocalObjectStore(tmp_path)
        await store.put("a/b", b"1", metadata={"m": "v"})
        (tmp_path / "a" / ".tmp-leftover").write_bytes(b"partial")
        assert await _keys(store) == ["a/b"]

    async def test_presign_without_signer_is_unavailable(self, tmp_path: Path) -> None:
        with pytest.raises(PresignUnavailable):
            await LocalObjectStore(tmp_path).presign_get("a", 60)

    async def test_presigned_url_verifies_with_the_same_secret(self, tmp_path: Path) -> None:
        signer = LocalUrlSigner(SECRET, "http://127.0.0.1:8300")
        url = await LocalObjectStore(tmp_path, signer=signer).presign_get("t/a.py", 60)
        query = parse_qs(urlsplit(url).query)
        assert signer.verify(query["key"][0], int(query["expires"][0]), query["signature"][0])

    async def test_a_file_as_root_fails_the_check(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_text("x")
        with pytest.raises(StorageError, match="unusable"):
            await LocalObjectStore(tmp_path / "file").check()
