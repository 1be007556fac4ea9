"""Logs are JSON lines carrying the service and, inside a request, the request id."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from sentinel_config import LogSettings, RequestIdMiddleware, configure_logging

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_structlog_and_stdlib_lines_are_json_with_the_service(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(level="INFO", format="json"), service="ingest")
    structlog.get_logger("sentinel.test").info("batch_accepted", events=3)
    logging.getLogger("uvicorn.error").warning("from the standard library")
    logging.getLogger("sentinel.test").debug("below the level")
    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["batch_accepted", "from the standard library"]
    assert all(line["service"] == "ingest" for line in lines)
    assert lines[0]["events"] == 3
    assert lines[0]["level"] == "info"
    assert lines[1]["level"] == "warning"
    assert lines[0]["timestamp"].endswith("Z")


def test_exceptions_are_rendered_as_structured_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(format="json"), service="worker")
    secret_local = "Bearer snt_do_not_log_me"
    try:
        raise ValueError(f"boom {len(secret_local)}")
    except ValueError:
        structlog.get_logger().exception("failed")
    (line,) = json_lines(capsys.readouterr().err)
    assert line["exception"][0]["exc_type"] == "ValueError"
    assert "snt_do_not_log_me" not in json.dumps(line)
    assert all("locals" not in frame or not frame["locals"] for frame in line["exception"][0]["frames"])


def test_console_format_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(format="console"), service="dashboard")
    structlog.get_logger().info("hello_console")
    err = capsys.readouterr().err
    assert "hello_console" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.splitlines()[0])


class TestRequestId:
    async def call(self, headers: list[tuple[bytes, bytes]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        seen: dict[str, Any] = {}

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            seen["bound"] = structlog.contextvars.get_contextvars().get("request_id")
            seen["state"] = scope["state"]["request_id"]
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"ok"})

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        await RequestIdMiddleware(app)({"type": "http", "headers": headers}, receive, send)  # type: ignore[arg-type]
        return sent, seen

    async def test_a_fresh_id_is_bound_and_echoed(self) -> None:
        sent, seen = await self.call([])
        echoed = dict(sent[0]["headers"])[b"x-request-id"].decode()
        assert len(echoed) == 32
        assert seen["bound"] == seen["state"] == echoed
        assert structlog.contextvars.get_contextvars().get("request_id") is None

    async def test_a_well_formed_caller_id_is_kept(self) -> None:
        sent, seen = await self.call([(b"X-Request-ID", b"abc-123")])
        assert dict(sent[0]["headers"])[b"x-request-id"] == b"abc-123"
        assert seen["bound"] == "abc-123"

    async def test_a_malformed_caller_id_is_replaced(self) -> None:
        sent, _ = await self.call([(b"x-request-id", b"bad id\r\ninjected: 1")])
        echoed = dict(sent[0]["headers"])[b"x-request-id"]
        assert b"injected" not in echoed
        assert len(echoed) == 32
