"""An insert whose connection breaks is sent again at once, through the real client, to the real engine."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest

from sentinel_analytics import ClickHouseStore, StoreError, decode_stored, landing_line
from sentinel_analytics.queries import row_count
from sentinel_analytics.testing import make_batch
from sentinel_config import ClickHouseSettings
from sentinel_queue import encode_entry

NOW = int(time.time() * 1000)


class InsertBreakingProxy:
    """A TCP proxy in front of ClickHouse's HTTP port that breaks the connection of the next ``breaks`` inserts
    (requests carrying an insert token) once their head has arrived, as a server closing a pooled keep-alive
    connection does. Every other request goes through."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.breaks = 0
        self.broken = 0
        self.inserts = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        answers = asyncio.create_task(self._pipe(up_reader, writer))
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                if b"insert_deduplication_token" in head.split(b"\r\n", 1)[0]:
                    self.inserts += 1
                    if self.broken < self.breaks:
                        self.broken += 1
                        writer.transport.abort()
                        break
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                up_writer.write(head + (await reader.readexactly(length) if length else b""))
                await up_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_writer.close()
            answers.cancel()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def behind_proxy(ch_settings: ClickHouseSettings) -> AsyncIterator[tuple[InsertBreakingProxy, ClickHouseStore]]:
    """A store whose connections go through an ``InsertBreakingProxy`` (breaking nothing until told)."""
    breaker = InsertBreakingProxy(urlsplit(ch_settings.url).port or 8123)
    url = await breaker.start()
    store = await ClickHouseStore.open(msgspec.structs.replace(ch_settings, url=url))
    yield breaker, store
    await store.close()
    await breaker.close()


def rows(project_id: str) -> list[bytes]:
    rng = random.Random(5)
    return [
        landing_line(decode_stored(encode_entry(make_batch(rng, project_id=project_id, events=20, now_ms=NOW)), 30))
        for _ in range(3)
    ]


async def test_an_insert_whose_connection_breaks_is_sent_again_and_stored_once(
    behind_proxy: tuple[InsertBreakingProxy, ClickHouseStore], ch_client: Any
) -> None:
    breaker, store = behind_proxy
    breaker.breaks = 1
    await store.write_rows("broken-once", rows("p-broken"))
    assert (breaker.broken, breaker.inserts) == (1, 2)
    assert await row_count(ch_client, "events", "p-broken") == 60


async def test_an_insert_that_keeps_breaking_is_a_retryable_store_error(
    behind_proxy: tuple[InsertBreakingProxy, ClickHouseStore], ch_client: Any
) -> None:
    breaker, store = behind_proxy
    breaker.breaks = 10
    with pytest.raises(StoreError) as failed:
        await store.write_rows("broken-always", rows("p-unreachable"))
    assert failed.value.retryable
    assert breaker.inserts == 2  # sent twice by the store, not more
    assert await row_count(ch_client, "events", "p-unreachable") == 0
