"""Migrations run once each, in order, and refuse a file that changed after it ran."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from sentinel_analytics import MigrationError, create_client, default_migrations_dir, load_migrations, migrate
from sentinel_config import ClickHouseSettings
from sentinel_local import ClickHouseEngine


async def test_migrate_twice_applies_nothing_the_second_time(ch_settings: ClickHouseSettings, ch_client: Any) -> None:
    assert await migrate(ch_settings) == []
    result = await ch_client.query("SELECT version, name FROM schema_migrations FINAL ORDER BY version")
    expected = [(m.version, m.name) for m in load_migrations(default_migrations_dir())]
    assert result.result_rows == expected
    tables = await ch_client.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    names = {row[0] for row in tables.result_rows}
    assert {"events", "batches", "requests_1m", "requests_1h", "sdk_loss_1m", "dead_letters"} <= names


async def test_a_new_file_is_applied_and_a_changed_one_refused(
    clickhouse_server: ClickHouseEngine, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(default_migrations_dir(), directory)
    settings = ClickHouseSettings(url=clickhouse_server.url, database=f"test_{uuid.uuid4().hex[:12]}")
    assert len(await migrate(settings, directory)) == len(load_migrations(directory))

    (directory / "9000_extra.sql").write_text(
        "-- one more\nCREATE TABLE IF NOT EXISTS extra (x UInt8) ENGINE = Memory;\n"
    )
    assert [m.name for m in await migrate(settings, directory)] == ["extra"]

    (directory / "9000_extra.sql").write_text("CREATE TABLE IF NOT EXISTS extra (x UInt16) ENGINE = Memory;\n")
    with pytest.raises(MigrationError, match="9000_extra already ran but its file has changed"):
        await migrate(settings, directory)

    client = await create_client(settings, with_database=False)
    try:
        await client.command(f"DROP DATABASE `{settings.database}` SYNC")
    finally:
        await client.close()
