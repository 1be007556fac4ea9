"""Named limits of the wire format.

The SDK trims or drops what exceeds them before sending; the ingest API rejects what still does. Changing a
limit is a wire change: raise limits freely, lower them only with a major version (see the package README).
"""

from __future__ import annotations

#: Most events one batch may carry.
MAX_EVENTS_PER_BATCH = 1_000
#: Largest request body the ingest API accepts, as sent (compressed).
MAX_BATCH_BYTES_COMPRESSED = 5 * 1024 * 1024
#: Largest request body the ingest API accepts after decompression.
MAX_BATCH_BYTES_DECOMPRESSED = 20 * 1024 * 1024
#: Size the SDK aims each batch at (encoded, before compression).
TARGET_BATCH_BYTES = 512 * 1024

#: Longest HTTP method name (WebDAV has long ones, such as VERSION-CONTROL).
MAX_METHOD_LENGTH = 32
#: Longest route template, such as ``/users/{user_id}``.
MAX_ROUTE_LENGTH = 512
#: Longest request path (query string included, after redaction).
MAX_PATH_LENGTH = 2_048
#: Longest user agent.
MAX_USER_AGENT_LENGTH = 512
#: Longest client address (an IPv6 address with a zone, or an anonymised hash).
MAX_CLIENT_IP_LENGTH = 64
#: Longest exception type name recorded in ``Event.error``.
MAX_ERROR_LENGTH = 256
#: Longest trace id (W3C trace ids are 32 hex digits; other formats are longer).
MAX_TRACE_ID_LENGTH = 64

#: Longest consumer id, name and group.
MAX_CONSUMER_ID_LENGTH = 128
MAX_CONSUMER_NAME_LENGTH = 256
MAX_CONSUMER_GROUP_LENGTH = 128

#: Most custom attributes per event, and the length of each key and value.
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_KEY_LENGTH = 64
MAX_ATTRIBUTE_VALUE_LENGTH = 1_024

#: Most captured headers per direction, and the length of each name and value.
MAX_HEADERS = 64
MAX_HEADER_NAME_LENGTH = 256
MAX_HEADER_VALUE_LENGTH = 2_048

#: Longest captured request or response body, in characters (the SDK caps bytes before decoding).
MAX_CAPTURED_BODY_LENGTH = 16_384

#: Longest service and environment names.
MAX_SERVICE_LENGTH = 128
MAX_ENVIRONMENT_LENGTH = 64

#: Longest SDK name, version and runtime strings.
MAX_SDK_NAME_LENGTH = 64
MAX_SDK_VERSION_LENGTH = 32
MAX_SDK_RUNTIME_LENGTH = 128

#: Largest size, counter or timestamp (a signed 64-bit integer, as every store and MessagePack carry it). Larger
#: integers, which JSON can spell, are refused rather than wrapped or rejected later by a store.
MAX_INT64 = 2**63 - 1

#: Longest request a single event may describe (a day); longer values are treated as corrupt.
MAX_DURATION_MS = 24 * 60 * 60 * 1_000.0
#: How far in the future an event's timestamp may be before it is rejected (clock skew allowance).
MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1_000
