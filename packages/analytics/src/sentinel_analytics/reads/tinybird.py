"""The Tinybird reader: the same queries, published as pipes (``infra/tinybird/pipes/<query>.pipe``).

``GET {api_url}/v0/pipes/<name>.json?<params>`` with a read token; the pipe's SQL is generated from
``sql.QUERIES`` so both backends compute the same figures.
"""

from __future__ import annotations

from typing import Any

import httpx

from sentinel_analytics.reads.base import SqlReader
from sentinel_analytics.reads.rows import Row
from sentinel_analytics.reads.types import ReadError
from sentinel_config import TinybirdSettings


class TinybirdReader(SqlReader):
    # Pipe parameters travel in the URL: a page's keys go in calls of at most 2,000 characters of JSON (about
    # 6 KB once percent-encoded), far from URL length limits whatever the routes' length.
    sketch_keys_per_call = 100
    sketch_chars_per_call = 2_000

    def __init__(self, settings: TinybirdSettings, *, client: httpx.AsyncClient | None = None) -> None:
        if not settings.token:
            raise ReadError("SENTINEL_TINYBIRD_TOKEN is required when the analytics backend is tinybird")
        self.settings = settings
        self._client = client or httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=settings.timeout_s,
        )

    async def _rows(self, query: str, params: dict[str, Any]) -> list[Row]:
        try:
            response = await self._client.get(f"/v0/pipes/{query}.json", params=_text(params))
        except httpx.TimeoutException as exc:
            raise ReadError(f"Tinybird pipe {query} did not answer in time", timeout=True) from exc
        except httpx.HTTPError as exc:
            raise ReadError(f"Tinybird is unreachable: {exc}") from exc
        if response.status_code >= 300:
            body = response.text[:300]
            timeout = response.status_code in (408, 504) or "TIMEOUT_EXCEEDED" in body
            raise ReadError(f"Tinybird pipe {query} answered {response.status_code}: {body}", timeout=timeout)
        data: list[Row] = response.json()["data"]
        return data

    async def ping(self) -> bool:
        try:
            response = await self._client.get("/v0/pipes", params={"limit": 1})
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    async def close(self) -> None:
        await self._client.aclose()


def _text(params: dict[str, Any]) -> dict[str, str]:
    return {name: repr(value) if isinstance(value, float) else str(value) for name, value in params.items()}
