"""Versioned ClickHouse migrations from ``infra/clickhouse/NNNN_name.sql``, applied once each, in order.

``schema_migrations`` records what ran with the file's checksum: running ``migrate`` again applies only new
files, and a file changed after it ran is refused (write a new migration instead). Statements must be idempotent
(``IF NOT EXISTS``), so two processes migrating at the same moment do no harm.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from sentinel_analytics.clickhouse_client import create_client
from sentinel_config import ClickHouseSettings

log = structlog.get_logger("sentinel.analytics.migrations")

MIGRATIONS_TABLE = "schema_migrations"
_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")


class MigrationError(RuntimeError):
    """A migration file is malformed, or one that already ran has changed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The file's statements, split on a ``;`` that ends a line; comment-only pieces dropped."""
        pieces = (piece.strip() for piece in _STATEMENT_END.split(self.sql))
        return [piece for piece in pieces if _strip_comments(piece)]


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip()


def default_migrations_dir() -> Path:
    """``infra/clickhouse`` of the source tree this package runs from (set the directory explicitly elsewhere)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "infra" / "clickhouse"
        if candidate.is_dir():
            return candidate
    raise MigrationError(
        "infra/clickhouse not found above the installed package: set SENTINEL_WORKER_MIGRATIONS_DIR "
        "to the directory holding the NNNN_name.sql files"
    )


def load_migrations(directory: Path) -> list[Migration]:
    """Every ``NNNN_name.sql`` in ``directory``, by version; other files are an error, not silently skipped."""
    migrations: list[Migration] = []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        migrations.append(Migration(int(match["version"]), match["name"], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return migrations


async def migrate(settings: ClickHouseSettings, directory: Path | None = None) -> list[Migration]:
    """Create the database if needed and apply the migrations that have not run; returns those applied."""
    migrations = load_migrations(directory or default_migrations_dir())
    admin = await create_client(settings, with_database=False)
    try:
        await admin.command(f"CREATE DATABASE IF NOT EXISTS `{settings.database}`")
    finally:
        await admin.close()
    client = await create_client(settings)
    try:
        return await _apply(client, migrations)
    finally:
        await client.close()


async def _apply(client: Any, migrations: list[Migration]) -> list[Migration]:
    await client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String, checksum String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version"
    )
    result = await client.query(f"SELECT version, name, checksum FROM {MIGRATIONS_TABLE} FINAL")  # noqa: S608
    done = {int(row[0]): (row[1], row[2]) for row in result.result_rows}
    applied: list[Migration] = []
    for migration in migrations:
        if migration.version in done:
            name, checksum = done[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{name} already ran but its file has changed: "
                    "migrations are immutable once applied, add a new one instead"
                )
            continue
        for statement in migration.statements():
            await client.command(statement)
        await client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        log.info("migration_applied", version=migration.version, name=migration.name)
        applied.append(migration)
    return applied
