"""Events and batches: what the SDK sends to ``POST /v1/events/batch``.

Every Struct ignores fields it does not know (forward compatibility) and gives every optional field a default,
so an older SDK's batch decodes on a newer server and the other way round. Timestamps are integers: UTC
milliseconds since the Unix epoch.
"""

import sys
import uuid
from typing import Annotated

import msgspec
from msgspec import Meta

from sentinel_types import limits

_NonNegativeInt = Annotated[int, Meta(ge=0, le=limits.MAX_INT64)]
_NonNegativeMs = Annotated[float, Meta(ge=0, le=limits.MAX_DURATION_MS)]
_NonNegativeFinite = Annotated[float, Meta(ge=0, le=sys.float_info.max)]  # the bound refuses infinity
_EpochMs = Annotated[int, Meta(ge=0, le=limits.MAX_INT64, description="UTC milliseconds since the Unix epoch")]

_HeaderName = Annotated[str, Meta(min_length=1, max_length=limits.MAX_HEADER_NAME_LENGTH)]
_HeaderValue = Annotated[str, Meta(max_length=limits.MAX_HEADER_VALUE_LENGTH)]
_Headers = Annotated[dict[_HeaderName, _HeaderValue], Meta(max_length=limits.MAX_HEADERS)]
_AttributeKey = Annotated[str, Meta(min_length=1, max_length=limits.MAX_ATTRIBUTE_KEY_LENGTH)]
_AttributeValue = Annotated[str, Meta(max_length=limits.MAX_ATTRIBUTE_VALUE_LENGTH)]
_Attributes = Annotated[dict[_AttributeKey, _AttributeValue], Meta(max_length=limits.MAX_ATTRIBUTES)]
_Body = Annotated[str, Meta(max_length=limits.MAX_CAPTURED_BODY_LENGTH)]


class Consumer(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True, gc=False):
    """Who called the API: a customer, an API key owner or a service, as the app identifies it."""

    id: Annotated[str, Meta(min_length=1, max_length=limits.MAX_CONSUMER_ID_LENGTH)]
    """Stable identifier of the consumer (required, non-empty)."""
    name: Annotated[str, Meta(max_length=limits.MAX_CONSUMER_NAME_LENGTH)] | None = None
    """Display name, if the app knows one."""
    group: Annotated[str, Meta(max_length=limits.MAX_CONSUMER_GROUP_LENGTH)] | None = None
    """Group or plan the consumer belongs to, for example ``"enterprise"``."""


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One request/response observed by the SDK."""

    event_id: uuid.UUID
    """Unique id of this event; also the key of the request log."""
    timestamp: _EpochMs
    """When the request started, UTC milliseconds since the Unix epoch."""
    method: Annotated[str, Meta(pattern=r"^[A-Z][A-Z0-9_-]*$", max_length=limits.MAX_METHOD_LENGTH)]
    """HTTP method in upper case."""
    path: Annotated[str, Meta(min_length=1, max_length=limits.MAX_PATH_LENGTH)]
    """Request path as seen by the app (query string included only after redaction)."""
    status: Annotated[int, Meta(ge=100, le=599)]
    """HTTP status code sent (500 for an unhandled exception)."""
    duration_ms: _NonNegativeMs
    """Time from the request reaching the middleware to the end of the response."""
    route: Annotated[str, Meta(max_length=limits.MAX_ROUTE_LENGTH)] | None = None
    """Route template, such as ``/users/{user_id}``; None when the framework matched no route."""
    ttfb_ms: _NonNegativeMs | None = None
    """Time to the first byte of the response body."""
    request_size: _NonNegativeInt = 0
    """Request body size in bytes (counted as it streams)."""
    response_size: _NonNegativeInt = 0
    """Response body size in bytes (counted as it streams)."""
    client_ip: Annotated[str, Meta(max_length=limits.MAX_CLIENT_IP_LENGTH)] | None = None
    """Client address (possibly truncated or hashed by the SDK)."""
    user_agent: Annotated[str, Meta(max_length=limits.MAX_USER_AGENT_LENGTH)] | None = None
    """User-Agent header."""
    consumer: Consumer | None = None
    """The identified consumer, if any."""
    attributes: _Attributes = msgspec.field(default_factory=dict)
    """Free-form string attributes set by the app."""
    request_headers: _Headers | None = None
    """Captured request headers (allowlisted, secrets redacted); None when capture is off."""
    response_headers: _Headers | None = None
    """Captured response headers (allowlisted, secrets redacted); None when capture is off."""
    request_body: _Body | None = None
    """Captured request body (JSON or text only, scrubbed, size-capped); None when capture is off."""
    response_body: _Body | None = None
    """Captured response body (JSON or text only, scrubbed, size-capped); None when capture is off."""
    error: Annotated[str, Meta(max_length=limits.MAX_ERROR_LENGTH)] | None = None
    """Type of the unhandled exception, such as ``ValueError``."""
    aborted: bool = False
    """True when the client went away before the response completed."""
    trace_id: Annotated[str, Meta(max_length=limits.MAX_TRACE_ID_LENGTH)] | None = None
    """Distributed trace id, when the request carried one."""


class SdkInfo(msgspec.Struct, kw_only=True, frozen=True):
    """Which SDK sent a batch."""

    name: Annotated[str, Meta(min_length=1, max_length=limits.MAX_SDK_NAME_LENGTH)]
    """SDK name, such as ``sentinel-python``."""
    version: Annotated[str, Meta(min_length=1, max_length=limits.MAX_SDK_VERSION_LENGTH)]
    """SDK version."""
    runtime: Annotated[str, Meta(max_length=limits.MAX_SDK_RUNTIME_LENGTH)] = ""
    """Language runtime and framework, such as ``CPython 3.12.4; starlette 0.41``."""


class LossCounters(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Events the SDK observed but did not deliver, by reason, since the previous batch."""

    queue_full: _NonNegativeInt = 0
    """Dropped because the in-memory buffer was full."""
    sampled_out: _NonNegativeInt = 0
    """Not sent because of the sample rate (counted so totals can be scaled)."""
    oversize: _NonNegativeInt = 0
    """Dropped because a single event exceeded the batch size limit."""
    send_failed: _NonNegativeInt = 0
    """Dropped after the retry budget of a batch ran out."""
    shutdown: _NonNegativeInt = 0
    """Still buffered when the process exited past the flush deadline."""

    def total(self) -> int:
        """Sum over every reason."""
        return self.queue_full + self.sampled_out + self.oversize + self.send_failed + self.shutdown


class CaptureOverhead(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The SDK's own measured cost per captured request, over a sample of requests."""

    samples: _NonNegativeInt
    """Number of requests measured."""
    mean_us: _NonNegativeFinite = 0.0
    """Mean CPU microseconds the SDK added per request."""
    p50_us: _NonNegativeFinite = 0.0
    """Median microseconds added."""
    p99_us: _NonNegativeFinite = 0.0
    """99th percentile microseconds added."""


class _BatchEnvelope(msgspec.Struct, kw_only=True, omit_defaults=True):
    batch_id: uuid.UUID
    """Id of the batch, stable across retries: the ingest API de-duplicates on it."""
    sent_at: _EpochMs
    """When this attempt was sent, UTC milliseconds (changes between retries)."""
    sdk: SdkInfo
    """Which SDK sent the batch."""
    service: Annotated[str, Meta(min_length=1, max_length=limits.MAX_SERVICE_LENGTH)] = "default"
    """Name of the instrumented service."""
    environment: Annotated[str, Meta(min_length=1, max_length=limits.MAX_ENVIRONMENT_LENGTH)] = "production"
    """Deployment environment, such as ``production`` or ``staging``."""
    sample_rate: Annotated[float, Meta(gt=0, le=1)] = 1.0
    """Share of requests the SDK kept; counts are scaled by its inverse."""
    dropped: LossCounters = msgspec.field(default_factory=LossCounters)
    """Loss counters since the previous batch."""
    overhead: CaptureOverhead | None = None
    """The SDK's own measured cost, when it measured it."""


class EventBatch(_BatchEnvelope, kw_only=True, omit_defaults=True):
    """A batch of events, the body of ``POST /v1/events/batch``."""

    events: Annotated[list[Event], Meta(min_length=1, max_length=limits.MAX_EVENTS_PER_BATCH)]
    """The events, 1 to ``MAX_EVENTS_PER_BATCH``."""
