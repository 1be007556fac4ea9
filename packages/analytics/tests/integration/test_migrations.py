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


async def test_the_consumer_week_rollups_are_filled_from_the_rows_already_stored(
    clickhouse_server: ClickHouseEngine, tmp_path: Path
) -> None:
    from sentinel_analytics import ClickHouseStore
    from sentinel_analytics.reads.plan import DAY, WEEK
    from sentinel_analytics.reads.testing import KnownData

    before = tmp_path / "before"
    before.mkdir()
    for path in default_migrations_dir().glob("000[1-4]_*.sql"):
        shutil.copy(path, before)
    settings = ClickHouseSettings(url=clickhouse_server.url, database=f"test_{uuid.uuid4().hex[:12]}")
    start = (1_700_000_000_000 // WEEK) * WEEK - DAY
    old = KnownData("prj-backfill", "t", start, count=800, step_ms=1_500_007)  # ~14 days, before 0005 exists
    new = KnownData("prj-backfill", "t", start + 3 * DAY + 11, count=300, step_ms=2_000_003)  # after it
    assert len(await migrate(settings, before)) == 4
    store = await ClickHouseStore.open(settings)
    client = await create_client(settings)
    try:
        await store.write("backfill-old", old.stored())
        applied = await migrate(settings)
        assert [m.name for m in applied] == ["consumer_weeks"]
        await store.write("backfill-new", new.stored())
        figures = (
            "SELECT consumer_id, sum(requests), sum(errors_4xx), sum(errors_5xx), "
            "round(quantileTDigestMerge(0.95)(duration_q), 3) FROM {table} "
            "WHERE project_id = 'prj-backfill' AND consumer_id != '' GROUP BY consumer_id ORDER BY consumer_id"
        )
        want = (await client.query(figures.replace("{table}", "consumers_1d"))).result_rows
        assert sum(row[1] for row in want) == len(old.known) + len(new.known) - sum(
            1 for k in [*old.known, *new.known] if k.event.consumer is None
        )
        for table in ("consumers_all_1d", "consumers_all_1w"):
            got = (await client.query(figures.replace("{table}", table))).result_rows
            assert [row[:4] for row in got] == [row[:4] for row in want], table
            assert [row[4] for row in got] == pytest.approx([row[4] for row in want], rel=0.02), table
    finally:
        await store.close()
        await client.command(f"DROP DATABASE `{settings.database}` SYNC")
        await client.close()
