"""Migrations run once each, in order, and refuse a file that changed after it ran."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from sentinel_analytics import MigrationError, create_client, default_migrations_dir, load_migrations, migrate
from sentinel_analytics.reads.testing import KnownData
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


async def test_consumer_week_rollups_are_read_only_from_when_they_are_complete(
    clickhouse_server: ClickHouseEngine, tmp_path: Path
) -> None:
    # Rows stored before migration 0005 are not in its per-consumer tables; readers take them from the per-source
    # table up to `rollup_since` and the new tables after it, so a window across both is still exact.
    import time

    from sentinel_analytics import ClickHouseStore
    from sentinel_analytics.reads import ClickHouseReader, Scope
    from sentinel_analytics.reads.base import NEVER
    from sentinel_analytics.reads.plan import DAY
    from sentinel_analytics.reads.testing import assert_consumer_rows, by_consumer

    before = tmp_path / "before"
    before.mkdir()
    for path in default_migrations_dir().glob("000[1-4]_*.sql"):
        shutil.copy(path, before)
    settings = ClickHouseSettings(url=clickhouse_server.url, database=f"test_{uuid.uuid4().hex[:12]}")
    now = int(time.time() * 1000)
    since = (now // DAY + 3) * DAY  # the start of the third day from now
    old = KnownData("prj-since", "t", since - 16 * DAY + 3_600_011, count=900, step_ms=1_500_007)
    assert len(await migrate(settings, before)) == 4
    store = await ClickHouseStore.open(settings)
    client = await create_client(settings)
    reader = ClickHouseReader(settings)
    try:
        await store.write("since-old", old.stored())
        unmigrated = ClickHouseReader(settings)
        try:  # no rollup_since yet: the per-consumer tables are never read
            assert await unmigrated.consumers_since() == NEVER
        finally:
            await unmigrated.close()
        assert [m.name for m in await migrate(settings)] == ["consumer_weeks"]
        assert await reader.consumers_since() in (since, since + DAY)  # + a day if the date changed meanwhile
        since = await reader.consumers_since()
        stored = await client.query("SELECT count() FROM consumers_all_1d WHERE project_id = 'prj-since'")
        assert stored.result_rows == [(0,)]  # nothing copied
        new = KnownData("prj-since", "t", since + 7_000, count=700, step_ms=2_400_013)  # ~19 days after `since`
        await store.write("since-new", new.stored())

        window = (since - 15 * DAY - 5_000, since + 18 * DAY + 3 * 3_600_000 + 17)
        inside = old.select(*window) + new.select(*window)
        groups = by_consumer(inside)
        rows = await reader.consumers(
            Scope(project_id="prj-since", start_ms=window[0], end_ms=window[1]),
            sort="p95_ms",
            order="desc",
            limit=100,
            after=None,
        )
        assert_consumer_rows(rows, groups)
    finally:
        await reader.close()
        await store.close()
        await client.command(f"DROP DATABASE `{settings.database}` SYNC")
        await client.close()


async def test_a_fresh_store_reads_the_per_consumer_rollups_from_the_start(ch_settings: ClickHouseSettings) -> None:
    from sentinel_analytics.reads import ClickHouseReader

    reader = ClickHouseReader(ch_settings)
    try:
        assert await reader.consumers_since() == 0
    finally:
        await reader.close()
