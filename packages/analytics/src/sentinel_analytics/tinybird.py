"""The Tinybird backend: rows appended through the Events API, figures read through Pipes.

Writes are NDJSON ``POST {api_url}/v0/events?name=<datasource>&wait=true`` with a bearer token; ``wait=true``
makes the answer wait until the rows are durably written, which the worker needs before acknowledging. 408, 429
and 5xx answers are retried with backoff, honouring ``Retry-After``. The Events API has no deduplication token:
unlike with ClickHouse, a batch written twice (a worker killed between write and acknowledgement, an answer lost
after Tinybird stored the rows) is counted twice in the rollups the pipes read; the ``events`` datasource (a
ReplacingMergeTree on the event id) drops the repeat when it merges. Within one process, a write retried under
the same token does not send again a datasource an earlier attempt delivered.
Datasources and pipes live in ``infra/tinybird/`` and mirror the ClickHouse tables and queries.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from sentinel_analytics.encode import batch_from_row
from sentinel_analytics.store import DeadLetter, StoreError
from sentinel_analytics.wire import StoredBatch
from sentinel_config import TinybirdSettings

_json = msgspec.json.Encoder()
_SENT_MEMORY = 1_024
"""Tokens whose datasources written so far are remembered (writes of a group still being retried)."""


def _retryable(status: int) -> bool:
    """Rate limits, timeouts and every server error are retried; other answers refuse the data."""
    return status in (408, 429) or status >= 500


def _time(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.mmm`` in UTC, the DateTime64(3) text Tinybird parses unambiguously."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def event_rows(batches: Sequence[StoredBatch]) -> bytes:
    """NDJSON rows of the ``events`` datasource (the columns of the ClickHouse ``events`` table)."""
    lines: list[bytes] = []
    for batch in batches:
        envelope = {
            "project_id": batch.project_id,
            "tenant_id": batch.tenant_id,
            "batch_id": batch.batch_id,
            "received_at": _time(batch.received_at),
            "service": batch.service,
            "environment": batch.environment,
            "retention_days": batch.retention_days,
        }
        for e in batch.events:
            consumer = e.consumer
            row = {
                **envelope,
                "timestamp": _time(e.timestamp),
                "event_id": e.event_id,
                "method": e.method,
                "path": e.path,
                "route": e.route,
                "status": e.status,
                "duration_ms": e.duration_ms,
                "ttfb_ms": e.ttfb_ms,
                "request_size": e.request_size,
                "response_size": e.response_size,
                "client_ip": e.client_ip,
                "user_agent": e.user_agent,
                "consumer_id": consumer.id if consumer else None,
                "consumer_name": consumer.name if consumer else None,
                "consumer_group": consumer.group if consumer else None,
                "attributes": e.attributes,
                "request_headers": None if e.request_headers is None else _json.encode(e.request_headers).decode(),
                "response_headers": None if e.response_headers is None else _json.encode(e.response_headers).decode(),
                "request_body": e.request_body,
                "response_body": e.response_body,
                "error": e.error,
                "aborted": e.aborted,
                "trace_id": e.trace_id,
            }
            lines.append(_json.encode(row))
    lines.append(b"")
    return b"\n".join(lines)


def batch_rows(batches: Sequence[StoredBatch]) -> bytes:
    """NDJSON rows of the ``batches`` datasource."""
    lines = []
    for b in batches:
        overhead = b.overhead
        row = {
            "project_id": b.project_id,
            "received_at": _time(b.received_at),
            "batch_id": b.batch_id,
            "tenant_id": b.tenant_id,
            "service": b.service,
            "environment": b.environment,
            "sdk_name": b.sdk.name,
            "sdk_version": b.sdk.version,
            "sdk_runtime": b.sdk.runtime,
            "sample_rate": b.sample_rate,
            "events": len(b.events),
            "dropped_queue_full": b.dropped.queue_full,
            "dropped_sampled_out": b.dropped.sampled_out,
            "dropped_oversize": b.dropped.oversize,
            "dropped_send_failed": b.dropped.send_failed,
            "dropped_shutdown": b.dropped.shutdown,
            "overhead_samples": overhead.samples if overhead else None,
            "overhead_mean_us": overhead.mean_us if overhead else None,
            "overhead_p50_us": overhead.p50_us if overhead else None,
            "overhead_p99_us": overhead.p99_us if overhead else None,
            "retention_days": b.retention_days,
        }
        lines.append(_json.encode(row))
    lines.append(b"")
    return b"\n".join(lines)


def dead_letter_rows(letters: Sequence[DeadLetter]) -> bytes:
    lines = [
        _json.encode(
            {
                "stream": d.stream,
                "entry_id": d.entry_id,
                "first_seen": _time(d.first_seen),
                "dead_lettered_at": _time(d.dead_lettered_at),
                "deliveries": d.deliveries,
                "project_id": d.project_id,
                "batch_id": d.batch_id,
                "error": d.error,
                "payload": d.payload.decode("utf-8", "backslashreplace"),
            }
        )
        for d in letters
    ]
    lines.append(b"")
    return b"\n".join(lines)


class TinybirdStore:
    """Writes through the Events API; ``query_pipe`` reads a published pipe."""

    def __init__(
        self,
        settings: TinybirdSettings,
        *,
        attempts: int = 5,
        backoff_s: float = 0.5,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not settings.token:
            raise StoreError(
                "SENTINEL_TINYBIRD_TOKEN is required when the analytics backend is tinybird", retryable=False
            )
        self.settings = settings
        self._sent: dict[str, set[str]] = {}
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._client = client or httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=settings.timeout_s,
        )

    async def _send(self, datasource: str, body: bytes) -> None:
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post(
                    "/v0/events", params={"name": datasource, "wait": "true"}, content=body
                )
            except httpx.HTTPError as exc:
                error = f"Tinybird unreachable: {exc}"
            else:
                if response.status_code < 300:
                    return
                error = f"Tinybird answered {response.status_code} for datasource {datasource}: {response.text[:300]}"
                if not _retryable(response.status_code):
                    raise StoreError(error, retryable=False)
                delay = max(delay, _retry_after(response))
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise StoreError(error, retryable=True)

    async def write(self, token: str, batches: Sequence[StoredBatch]) -> None:
        if not batches:
            return
        # Events first: a batch row means its events are in (the loss counters are read from batches). A write
        # retried under the same token does not send again what an earlier attempt delivered.
        sent = self._sent.pop(token, set())
        self._sent[token] = sent
        while len(self._sent) > _SENT_MEMORY:
            del self._sent[next(iter(self._sent))]
        for datasource, rows in (("events", event_rows), ("batches", batch_rows)):
            if datasource not in sent:
                await self._send(datasource, rows(batches))
                sent.add(datasource)
        self._sent.pop(token, None)

    async def write_rows(self, token: str, lines: Sequence[bytes]) -> None:
        """The Events API takes named fields: the rows are read back into batches first."""
        try:
            batches = [batch_from_row(line) for line in lines]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError) as exc:
            raise StoreError(f"not a landing row: {exc}", retryable=False) from exc
        await self.write(token, batches)

    async def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            await self._send("dead_letters", dead_letter_rows(letters))

    async def query_pipe(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of a published pipe's ``.json`` endpoint."""
        response = await self._client.get(f"/v0/pipes/{name}.json", params=params)
        if response.status_code >= 300:
            raise StoreError(
                f"Tinybird pipe {name} answered {response.status_code}: {response.text[:300]}",
                retryable=_retryable(response.status_code),
            )
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    async def ping(self) -> bool:
        try:
            response = await self._client.get("/v0/pipes", params={"limit": 1})
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    async def close(self) -> None:
        await self._client.aclose()


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(60.0, max(0.0, float(response.headers.get("Retry-After", "0"))))
    except ValueError:
        return 0.0


# --- pipe files --------------------------------------------------------------------------------------------
_PARAM = re.compile(
    r"\{\{\s*(?P<type>String|DateTime64|DateTime|U?Int(?:8|16|32|64)|Float(?:32|64))\(\s*(?P<name>\w+)[^}]*\}\}"
)
_CLICKHOUSE_TYPES = {"DateTime64": "DateTime64(3)"}


def pipe_nodes(path: Path) -> dict[str, str]:
    """The SQL of each ``NODE`` of a ``.pipe`` file, by node name."""
    nodes: dict[str, str] = {}
    current: str | None = None
    sql_lines: list[str] | None = None
    for line in path.read_text().splitlines():
        if line.startswith("NODE "):
            current, sql_lines = line.split()[1], None
        elif line.strip() == "SQL >" and current is not None:
            sql_lines = []
            nodes[current] = ""
        elif sql_lines is not None and current is not None:
            if line and not line.startswith(" "):
                nodes[current] = "\n".join(sql_lines).strip()
                sql_lines = None
                continue
            sql_lines.append(line.strip())
            nodes[current] = "\n".join(sql_lines).strip()
    return nodes


def to_clickhouse(sql: str) -> str:
    """A pipe's templated SQL as plain ClickHouse SQL with server-side parameters (``{name:Type}``).

    Covers the template subset the pipes use: typed parameters ``{{ Type(name, ...) }}`` and the ``%`` marker
    line that turns templating on.
    """
    lines = [line for line in sql.splitlines() if line.strip() != "%"]
    return _PARAM.sub(
        lambda m: "{" + m["name"] + ":" + _CLICKHOUSE_TYPES.get(m["type"], m["type"]) + "}", "\n".join(lines)
    )
