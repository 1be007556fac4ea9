"""The control store on SQLite: the embedded default.

One connection used from one dedicated thread, so the event loop never waits on disk and statements never
interleave; WAL mode so the ingest API and the dashboard (separate processes) read while the other writes;
``BEGIN IMMEDIATE`` for check-then-write sequences so concurrent creators serialise, across processes too.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from sentinel_control.errors import ConflictError, LimitExceededError, StoreUnavailableError
from sentinel_control.jobs import Job, JobChanges
from sentinel_control.models import (
    DashboardToken,
    IngestKey,
    KeyResolution,
    Project,
    ProjectChanges,
    Tenant,
    TenantLimits,
    now_ms,
)

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    limits TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    retention_days INTEGER NOT NULL,
    rate_limit_eps INTEGER NOT NULL,
    rate_limit_burst INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS projects_tenant_name ON projects (tenant_id, lower(name));
CREATE TABLE IF NOT EXISTS ingest_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    visible TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS ingest_keys_project ON ingest_keys (project_id, created_at);
CREATE TABLE IF NOT EXISTS dashboard_tokens (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    visible TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS dashboard_tokens_tenant ON dashboard_tokens (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_project ON jobs (tenant_id, project_id, created_at DESC);
"""

_PROJECT_COLUMNS = (
    "id, tenant_id, name, retention_days, rate_limit_eps, rate_limit_burst, enabled, created_at, updated_at"
)
_KEY_COLUMNS = "id, tenant_id, project_id, name, visible, key_hash, created_at, revoked_at"
_TOKEN_COLUMNS = "id, tenant_id, name, scopes, visible, token_hash, created_at, expires_at, revoked_at"  # noqa: S105 - column names


def _project(row: sqlite3.Row) -> Project:
    return Project(**{**dict(row), "enabled": bool(row["enabled"])})


def _key(row: sqlite3.Row) -> IngestKey:
    return IngestKey(**dict(row))


def _token(row: sqlite3.Row) -> DashboardToken:
    return DashboardToken(**{**dict(row), "scopes": tuple(msgspec.json.decode(row["scopes"]))})


class _SqliteJobs:
    """Job methods of the SQLite store (mixed into ``SqliteControlStore``)."""

    _run: Any
    _write: Any

    async def create_job(self, job: Job) -> None:
        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO jobs (id, tenant_id, project_id, created_at, version, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (job.id, job.tenant_id, job.project_id, job.created_at, job.version, _job_json(job)),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"job {job.id} already exists") from exc

        await self._run(insert)

    async def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT data FROM jobs WHERE tenant_id = ? AND id = ?", (tenant_id, job_id)
            ).fetchone()
        )
        return msgspec.json.decode(row["data"], type=Job) if row else None

    async def find_job(self, job_id: str) -> Job | None:
        row = await self._run(lambda db: db.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone())
        return msgspec.json.decode(row["data"], type=Job) if row else None

    async def list_jobs(
        self, tenant_id: str, project_id: str, limit: int = 50, *, before: tuple[int, str] | None = None
    ) -> list[Job]:
        older = " AND (created_at, id) < (?, ?)" if before is not None else ""
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT data FROM jobs WHERE tenant_id = ? AND project_id = ?{older}"  # noqa: S608 - constant text
                " ORDER BY created_at DESC, id DESC LIMIT ?",
                (tenant_id, project_id, *(before or ()), limit),
            ).fetchall()
        )
        return [msgspec.json.decode(row["data"], type=Job) for row in rows]

    async def update_job(self, tenant_id: str, job_id: str, changes: JobChanges, expected_version: int) -> Job | None:
        def update(db: sqlite3.Connection) -> Job | None:
            row = db.execute("SELECT data FROM jobs WHERE tenant_id = ? AND id = ?", (tenant_id, job_id)).fetchone()
            if row is None:
                return None
            current = msgspec.json.decode(row["data"], type=Job)
            if current.version != expected_version:
                raise ConflictError(f"job {job_id} is at version {current.version}, not {expected_version}")
            updated = changes.apply(current, at=now_ms())
            db.execute(
                "UPDATE jobs SET data = ?, version = ? WHERE id = ? AND version = ?",
                (_job_json(updated), updated.version, job_id, expected_version),
            )
            return updated

        result: Job | None = await self._run(lambda db: self._write(db, update))
        return result


def _job_json(job: Job) -> str:
    return msgspec.json.encode(job).decode()


class SqliteControlStore(_SqliteJobs):
    """``ControlStore`` on a SQLite file (``SENTINEL_CONTROL_SQLITE_PATH``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentinel-sqlite")
        self._db: sqlite3.Connection | None = None

    # --- plumbing -----------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA busy_timeout = 10000")
            self._db = db
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            try:
                return work(self._connect())
            except sqlite3.OperationalError as exc:
                raise StoreUnavailableError(f"sqlite: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    @staticmethod
    def _write(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def setup(self) -> None:
        await self._run(lambda db: db.executescript(SCHEMA))

    async def close(self) -> None:
        def close(db: sqlite3.Connection) -> None:
            db.close()
            self._db = None

        if self._db is not None:
            await self._run(close)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    # --- tenants ------------------------------------------------------------------------------------------
    async def create_tenant(self, tenant: Tenant) -> None:
        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO tenants (id, name, limits, created_at) VALUES (?, ?, ?, ?)",
                    (tenant.id, tenant.name, msgspec.json.encode(tenant.limits).decode(), tenant.created_at),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"tenant {tenant.id} already exists") from exc

        await self._run(insert)

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        row = await self._run(lambda db: db.execute("SELECT * FROM tenants WHERE id = ?", (tenant_id,)).fetchone())
        if row is None:
            return None
        limits = msgspec.json.decode(row["limits"], type=TenantLimits)
        return Tenant(id=row["id"], name=row["name"], limits=limits, created_at=row["created_at"])

    def _limits(self, db: sqlite3.Connection, tenant_id: str) -> TenantLimits:
        row = db.execute("SELECT limits FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        if row is None:
            raise LookupError(f"no tenant {tenant_id}")
        return msgspec.json.decode(row["limits"], type=TenantLimits)

    # --- projects -----------------------------------------------------------------------------------------
    async def create_project(self, project: Project) -> None:
        def insert(db: sqlite3.Connection) -> None:
            limits = self._limits(db, project.tenant_id)
            (count,) = db.execute("SELECT count(*) FROM projects WHERE tenant_id = ?", (project.tenant_id,)).fetchone()
            if count >= limits.max_projects:
                raise LimitExceededError(f"the tenant may have at most {limits.max_projects} projects")
            try:
                db.execute(
                    f"INSERT INTO projects ({_PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    (
                        project.id,
                        project.tenant_id,
                        project.name,
                        project.retention_days,
                        project.rate_limit_eps,
                        project.rate_limit_burst,
                        int(project.enabled),
                        project.created_at,
                        project.updated_at,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"a project named {project.name!r} already exists") from exc

        await self._run(lambda db: self._write(db, insert))

    async def get_project(self, tenant_id: str, project_id: str) -> Project | None:
        row = await self._run(
            lambda db: db.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE tenant_id = ? AND id = ?",  # noqa: S608
                (tenant_id, project_id),
            ).fetchone()
        )
        return _project(row) if row else None

    async def list_projects(self, tenant_id: str) -> list[Project]:
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE tenant_id = ? ORDER BY created_at, id",  # noqa: S608
                (tenant_id,),
            ).fetchall()
        )
        return [_project(row) for row in rows]

    async def update_project(self, tenant_id: str, project_id: str, changes: ProjectChanges) -> Project | None:
        def update(db: sqlite3.Connection) -> Project | None:
            row = db.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE tenant_id = ? AND id = ?",  # noqa: S608
                (tenant_id, project_id),
            ).fetchone()
            if row is None:
                return None
            updated = changes.apply(_project(row), at=_now())
            try:
                db.execute(
                    "UPDATE projects SET name = ?, retention_days = ?, rate_limit_eps = ?, rate_limit_burst = ?,"
                    " enabled = ?, updated_at = ? WHERE id = ?",
                    (
                        updated.name,
                        updated.retention_days,
                        updated.rate_limit_eps,
                        updated.rate_limit_burst,
                        int(updated.enabled),
                        updated.updated_at,
                        project_id,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"a project named {updated.name!r} already exists") from exc
            return updated

        return await self._run(lambda db: self._write(db, update))

    async def delete_project(self, tenant_id: str, project_id: str) -> bool:
        def delete(db: sqlite3.Connection) -> bool:
            cursor = db.execute("DELETE FROM projects WHERE tenant_id = ? AND id = ?", (tenant_id, project_id))
            return cursor.rowcount > 0

        return await self._run(lambda db: self._write(db, delete))

    # --- ingest keys --------------------------------------------------------------------------------------
    def _insert_key(self, db: sqlite3.Connection, key: IngestKey) -> None:
        project = db.execute(
            "SELECT 1 FROM projects WHERE tenant_id = ? AND id = ?", (key.tenant_id, key.project_id)
        ).fetchone()
        if project is None:
            raise LookupError(f"no project {key.project_id} in tenant {key.tenant_id}")
        limits = self._limits(db, key.tenant_id)
        (active,) = db.execute(
            "SELECT count(*) FROM ingest_keys WHERE project_id = ? AND revoked_at IS NULL", (key.project_id,)
        ).fetchone()
        if active >= limits.max_keys_per_project:
            raise LimitExceededError(f"a project may have at most {limits.max_keys_per_project} active keys")
        try:
            db.execute(
                f"INSERT INTO ingest_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    key.id,
                    key.tenant_id,
                    key.project_id,
                    key.name,
                    key.visible,
                    key.key_hash,
                    key.created_at,
                    key.revoked_at,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"key {key.id} already exists") from exc

    async def create_key(self, key: IngestKey) -> None:
        await self._run(lambda db: self._write(db, lambda db: self._insert_key(db, key)))

    async def list_keys(self, tenant_id: str, project_id: str) -> list[IngestKey]:
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT {_KEY_COLUMNS} FROM ingest_keys WHERE tenant_id = ? AND project_id = ?"  # noqa: S608
                " ORDER BY created_at, id",
                (tenant_id, project_id),
            ).fetchall()
        )
        return [_key(row) for row in rows]

    @staticmethod
    def _revoke(db: sqlite3.Connection, tenant_id: str, project_id: str, key_id: str, at: int) -> IngestKey | None:
        db.execute(
            "UPDATE ingest_keys SET revoked_at = ? WHERE tenant_id = ? AND project_id = ? AND id = ?"
            " AND revoked_at IS NULL",
            (at, tenant_id, project_id, key_id),
        )
        row = db.execute(
            f"SELECT {_KEY_COLUMNS} FROM ingest_keys WHERE tenant_id = ? AND project_id = ? AND id = ?",  # noqa: S608
            (tenant_id, project_id, key_id),
        ).fetchone()
        return _key(row) if row else None

    async def revoke_key(self, tenant_id: str, project_id: str, key_id: str, at: int) -> IngestKey | None:
        return await self._run(
            lambda db: self._write(db, lambda db: self._revoke(db, tenant_id, project_id, key_id, at))
        )

    async def rotate_key(self, tenant_id: str, project_id: str, old_key_id: str, new_key: IngestKey, at: int) -> bool:
        def rotate(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "UPDATE ingest_keys SET revoked_at = ? WHERE tenant_id = ? AND project_id = ? AND id = ?"
                " AND revoked_at IS NULL",
                (at, tenant_id, project_id, old_key_id),
            )
            if cursor.rowcount == 0:
                return False
            self._insert_key(db, new_key)
            return True

        return await self._run(lambda db: self._write(db, rotate))

    async def resolve_key(self, key_hash: str) -> KeyResolution | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT k.id AS key_id, k.project_id, k.tenant_id, p.enabled AS project_enabled, p.retention_days,"
                " p.rate_limit_eps, p.rate_limit_burst, k.revoked_at IS NOT NULL AS revoked"
                " FROM ingest_keys k JOIN projects p ON p.id = k.project_id WHERE k.key_hash = ?",
                (key_hash,),
            ).fetchone()
        )
        if row is None:
            return None
        return KeyResolution(
            **{**dict(row), "project_enabled": bool(row["project_enabled"]), "revoked": bool(row["revoked"])}
        )

    # --- dashboard tokens ---------------------------------------------------------------------------------
    async def create_token(self, token: DashboardToken) -> None:
        def insert(db: sqlite3.Connection) -> None:
            limits = self._limits(db, token.tenant_id)
            (usable,) = db.execute(
                "SELECT count(*) FROM dashboard_tokens WHERE tenant_id = ? AND revoked_at IS NULL"
                " AND (expires_at IS NULL OR expires_at > ?)",
                (token.tenant_id, _now()),
            ).fetchone()
            if usable >= limits.max_tokens:
                raise LimitExceededError(f"the tenant may have at most {limits.max_tokens} usable tokens")
            try:
                db.execute(
                    f"INSERT INTO dashboard_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    (
                        token.id,
                        token.tenant_id,
                        token.name,
                        msgspec.json.encode(list(token.scopes)).decode(),
                        token.visible,
                        token.token_hash,
                        token.created_at,
                        token.expires_at,
                        token.revoked_at,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"token {token.id} already exists") from exc

        await self._run(lambda db: self._write(db, insert))

    async def get_token_by_hash(self, token_hash: str) -> DashboardToken | None:
        row = await self._run(
            lambda db: db.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM dashboard_tokens WHERE token_hash = ?",  # noqa: S608
                (token_hash,),
            ).fetchone()
        )
        return _token(row) if row else None

    async def list_tokens(self, tenant_id: str) -> list[DashboardToken]:
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM dashboard_tokens WHERE tenant_id = ? ORDER BY created_at, id",  # noqa: S608
                (tenant_id,),
            ).fetchall()
        )
        return [_token(row) for row in rows]

    async def revoke_token(self, tenant_id: str, token_id: str, at: int) -> DashboardToken | None:
        def revoke(db: sqlite3.Connection) -> DashboardToken | None:
            db.execute(
                "UPDATE dashboard_tokens SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
                (at, tenant_id, token_id),
            )
            row = db.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM dashboard_tokens WHERE tenant_id = ? AND id = ?",  # noqa: S608
                (tenant_id, token_id),
            ).fetchone()
            return _token(row) if row else None

        return await self._run(lambda db: self._write(db, revoke))


def _now() -> int:
    return now_ms()


__all__ = ["SqliteControlStore"]
