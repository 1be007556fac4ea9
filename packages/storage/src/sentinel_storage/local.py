"""``LocalObjectStore``: objects as files under one directory.

Each key maps to ``root/<key>``; the resolved path must stay under the resolved root (a symlink pointing out is
refused like ``..``). Writes go to a hidden temporary file that is fsynced and renamed into place, so a reader
sees the old or the new bytes. Content type and user metadata live in a sidecar under ``root/.meta/`` (hidden
names cannot be keys, so it never collides with an object).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Literal

import msgspec

from sentinel_storage.base import DEFAULT_CONTENT_TYPE, ObjectInfo, check_metadata, check_ttl
from sentinel_storage.errors import InvalidKey, ObjectNotFound, PresignUnavailable, StorageError
from sentinel_storage.keys import check_key, check_prefix
from sentinel_storage.signing import LocalUrlSigner

_META_DIR = ".meta"


class _Sidecar(msgspec.Struct, frozen=True):
    content_type: str = DEFAULT_CONTENT_TYPE
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalObjectStore:
    """A directory as an object store. ``signer`` makes ``presign_get`` possible (URLs served by the dashboard)."""

    backend: Literal["local"] = "local"

    def __init__(self, root: str | Path, *, signer: LocalUrlSigner | None = None) -> None:
        self.root = Path(root)
        self.signer = signer

    def path_of(self, key: str) -> Path:
        """The file of ``key``; ``InvalidKey`` when the key is invalid or would resolve outside the root."""
        check_key(key)
        root = self.root.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root) or path == root:
            raise InvalidKey(key, "resolves outside the store's directory")
        return path

    def _sidecar_of(self, key: str) -> Path:
        return self.root.resolve() / _META_DIR / f"{key}.json"

    def _fail(self, action: str, key: str, exc: OSError) -> StorageError:
        return StorageError(f"local object store {self.root}: {action} {key!r} failed: {exc}")

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        path = self.path_of(key)
        meta = check_metadata(metadata)

        def write() -> os.stat_result:
            sidecar = self._sidecar_of(key)
            if meta or content_type != DEFAULT_CONTENT_TYPE:
                _write_atomically(sidecar, msgspec.json.encode(_Sidecar(content_type, meta)))
            else:
                sidecar.unlink(missing_ok=True)
            _write_atomically(path, data)
            return path.stat()

        try:
            stat = await asyncio.to_thread(write)
        except OSError as exc:
            raise self._fail("put", key, exc) from exc
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            modified_ms=stat.st_mtime_ns // 1_000_000,
            etag=f"{stat.st_size:x}-{stat.st_mtime_ns:x}",
            content_type=content_type,
            metadata=meta,
        )

    async def get(self, key: str) -> bytes:
        path = self.path_of(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise self._fail("get", key, exc) from exc

    async def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise self._fail("get", key, exc) from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.path_of(key)

        def read() -> ObjectInfo | None:
            try:
                stat = path.stat()
            except (FileNotFoundError, NotADirectoryError):
                return None
            if not path.is_file():
                return None
            try:
                sidecar = msgspec.json.decode(self._sidecar_of(key).read_bytes(), type=_Sidecar)
            except (FileNotFoundError, NotADirectoryError, msgspec.DecodeError):
                sidecar = _Sidecar()
            return ObjectInfo(
                key=key,
                size=stat.st_size,
                modified_ms=stat.st_mtime_ns // 1_000_000,
                etag=f"{stat.st_size:x}-{stat.st_mtime_ns:x}",
                content_type=sidecar.content_type,
                metadata=dict(sidecar.metadata),
            )

        try:
            return await asyncio.to_thread(read)
        except OSError as exc:
            raise self._fail("head", key, exc) from exc

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    def _scan(self, prefix: str) -> list[ObjectInfo]:
        root = self.root.resolve()
        start = root / prefix.rpartition("/")[0] if "/" in prefix else root
        if not start.is_dir() or not start.resolve().is_relative_to(root):
            return []
        found: list[ObjectInfo] = []
        for directory, dirnames, filenames in os.walk(start):
            dirnames[:] = [name for name in dirnames if not name.startswith(".")]
            base = Path(directory)
            for name in filenames:
                if name.startswith("."):
                    continue
                key = (base / name).relative_to(root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    stat = (base / name).stat()
                except FileNotFoundError:
                    continue  # deleted while listing
                found.append(
                    ObjectInfo(
                        key=key,
                        size=stat.st_size,
                        modified_ms=stat.st_mtime_ns // 1_000_000,
                        etag=f"{stat.st_size:x}-{stat.st_mtime_ns:x}",
                    )
                )
        found.sort(key=lambda info: info.key)
        return found

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        check_prefix(prefix)
        try:
            found = await asyncio.to_thread(self._scan, prefix)
        except OSError as exc:
            raise self._fail("list", prefix, exc) from exc
        for info in found:
            yield info

    async def delete(self, key: str) -> None:
        path = self.path_of(key)

        def remove() -> None:
            path.unlink(missing_ok=True)
            self._sidecar_of(key).unlink(missing_ok=True)

        try:
            await asyncio.to_thread(remove)
        except IsADirectoryError:
            return
        except OSError as exc:
            raise self._fail("delete", key, exc) from exc

    async def presign_get(self, key: str, ttl_s: int) -> str:
        check_key(key)
        check_ttl(ttl_s)
        if self.signer is None:
            raise PresignUnavailable(f"local object store {self.root} has no URL signer; it cannot presign {key!r}")
        return self.signer.url(key, ttl_s)

    async def check(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
                raise PermissionError(f"{self.root} is not readable and writable")

        try:
            await asyncio.to_thread(probe)
        except OSError as exc:
            raise StorageError(f"local object store {self.root} is unusable: {exc}") from exc

    async def close(self) -> None:
        return None
