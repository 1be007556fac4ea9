"""Each connector's parameters, checked the same way by the trigger-sync route (400 naming the field) and by the
sync runner (which may receive an event published by anything)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from sentinel_storage import InvalidKey, check_prefix

MAX_REPLAY_RANGE = timedelta(days=31)
_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_FIELD_IN_ERROR = re.compile(r"at `\$\.([A-Za-z_]+)")
_UNKNOWN_FIELD = re.compile(r"unknown field `([A-Za-z_]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([A-Za-z_]+)`")


class ParamsError(ValueError):
    """Bad connector parameters: ``field`` names the parameter (``params.<name>``), the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ArchiveReplayParams(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``archive-replay``: re-ingest the batches the archive holds for ``[from, to)`` (arrival time, UTC)."""

    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")

    def check(self) -> ArchiveReplayParams:
        for name, value in (("from", self.start), ("to", self.end)):
            if value.tzinfo is None:
                raise ParamsError(f"params.{name}", f"{name} needs a time zone, e.g. 2026-01-01T00:00:00Z")
        if self.end <= self.start:
            raise ParamsError("params.to", "to must be after from")
        if self.end - self.start > MAX_REPLAY_RANGE:
            raise ParamsError("params.to", f"a replay covers at most {MAX_REPLAY_RANGE.days} days; split the range")
        return msgspec.structs.replace(self, start=self.start.astimezone(UTC), end=self.end.astimezone(UTC))

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


class S3AccessLogsParams(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``s3-access-logs``: import ALB access logs or NDJSON request logs stored under ``s3://bucket/prefix``."""

    bucket: Annotated[str, Meta(pattern=_BUCKET)]
    prefix: Annotated[str, Meta(max_length=1024)] = ""
    format: Literal["alb", "ndjson"]
    service: Annotated[str, Meta(min_length=1, max_length=128)] = "default"
    """The service the imported events are filed under."""
    environment: Annotated[str, Meta(min_length=1, max_length=64)] = "production"
    max_objects: Annotated[int, Meta(ge=1, le=100_000)] = 10_000
    """Refuse a prefix holding more objects than this (a typo in the prefix should not import a whole bucket)."""

    def check(self) -> S3AccessLogsParams:
        try:
            check_prefix(self.prefix)
        except InvalidKey as exc:
            raise ParamsError("params.prefix", f"prefix {exc.problem}") from None
        return self


ConnectorParams = ArchiveReplayParams | S3AccessLogsParams
_TYPES: dict[str, type[ArchiveReplayParams] | type[S3AccessLogsParams]] = {
    "archive-replay": ArchiveReplayParams,
    "s3-access-logs": S3AccessLogsParams,
}
CONNECTOR_NAMES: tuple[str, ...] = tuple(_TYPES)


def parse_params(connector: str, params: Any) -> ConnectorParams:
    """The checked parameters of ``connector``; ``ParamsError`` names the field at fault and why."""
    kind = _TYPES.get(connector)
    if kind is None:
        raise ParamsError("connector", f"unknown connector {connector!r}; use one of {', '.join(CONNECTOR_NAMES)}")
    if not isinstance(params, dict):
        raise ParamsError("params", "params must be a JSON object")
    try:
        parsed = msgspec.convert(params, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise ParamsError(_field_of(str(exc)), f"{connector}: {exc}") from None
    return parsed.check()


def _field_of(message: str) -> str:
    for pattern in (_FIELD_IN_ERROR, _UNKNOWN_FIELD, _MISSING_FIELD):
        match = pattern.search(message)
        if match:
            return f"params.{match.group(1)}"
    return "params"
