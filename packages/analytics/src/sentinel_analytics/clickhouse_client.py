"""Opening clickhouse-connect async clients from ``ClickHouseSettings``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect

from sentinel_config import ClickHouseSettings


async def create_client(settings: ClickHouseSettings, *, with_database: bool = True, **extra: Any) -> Any:
    """An async client; no session id, so concurrent queries on one client are allowed."""
    url = urlsplit(settings.url)
    return await clickhouse_connect.get_async_client(
        host=url.hostname or "127.0.0.1",
        port=url.port or (8443 if url.scheme == "https" else 8123),
        secure=url.scheme == "https",
        username=settings.user,
        password=settings.password,
        database=settings.database if with_database else "default",
        connect_timeout=settings.connect_timeout_s,
        send_receive_timeout=max(settings.query_timeout_s, 30.0),
        autogenerate_session_id=False,
        settings={"max_execution_time": settings.query_timeout_s},
        **extra,
    )
