"""What the request path records about one request, and the per-request context behind ``set_consumer``.

The request path only copies references and numbers into a ``Capture``; decoding, redaction, scrubbing, IP
resolution, event ids and encoding all happen later on the sender thread (see ``_events.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

import msgspec

from sentinel_types import Consumer

RawHeaders = list[tuple[bytes, bytes]] | list[tuple[str, str]]
"""Header pairs as the server gave them: bytes from ASGI, latin-1 strings from WSGI and Django."""


class Capture(msgspec.Struct, gc=False):
    """One observed request/response. Mutated only by the request that owns it, then handed to the buffer.

    A struct (its fields set in one constructor call on the request path) that the garbage collector does not
    track: the buffer holds up to thousands of captures between batches, which the collections triggered by the
    app's own allocations would otherwise traverse. The fields a request path sets at its start come first, so
    that one positional call sets them. A capture never takes part in a reference cycle: it refers to
    strings, numbers, header lists, body buffers and a consumer, never to the request, the app or itself.
    """

    start_ns: int  # perf_counter_ns() when the request reached the middleware: durations are measured from it, and
    # the sender dates the event from it (no wall-clock read on the request path; see ``EventBuilder.build``)
    method: str
    path: str
    query: bytes | str
    peer: str | None  # address of the TCP peer: the client, or the nearest proxy
    user_agent: bytes | str | None = None
    traceparent: bytes | str | None = None
    request_size: int = 0
    status: int = 0
    end_ns: int = 0  # perf_counter_ns() when the last body chunk was sent (or the app returned)
    ttfb_ns: int = 0  # perf_counter_ns() of the first response body chunk
    response_size: int = 0
    proxy_header: bytes | str | None = None  # read only when trusted_proxies is set
    route: str | None = None
    consumer: Consumer | None = None
    error: str | None = None
    aborted: bool = False
    request_headers: RawHeaders | None = None
    response_headers: RawHeaders | None = None
    request_body: bytearray | None = None
    request_body_type: str | None = None
    response_body: bytearray | None = None
    response_body_type: str | None = None
    overhead_ns: int = 0  # SDK time spent on this request, on the measured sample only
    queued: bool = False  # handed to the client (Flask: completion can be reached twice)
    identified: bool = False  # the identify callback ran (Flask: an exception and its 500 answer both ask)


current: ContextVar[Capture | None] = ContextVar("sentinel_sdk.capture", default=None)
"""The capture of the request being handled. Holds a mutable object, so that a value set in a copied context
(a thread pool, a task) is still seen by the middleware."""

finders: list[Callable[[], Capture | None]] = []
"""Where integrations that keep the capture elsewhere than in ``current`` find it (Flask: in the request's
environ, which costs less per request than setting a context variable). Asked before ``current``: the innermost
capture of a request wins, as with nested context variables."""


def _found() -> Capture | None:
    for find in finders:
        capture = find()
        if capture is not None:
            return capture
    return None


def set_consumer(consumer: Consumer | str | None, *, name: str | None = None, group: str | None = None) -> None:
    """Attach the API consumer to the request being handled.

    Call it anywhere inside a request (an endpoint, a dependency, an auth hook), with a ``Consumer`` or an id::

        set_consumer("acct_42", name="Acme Inc.", group="enterprise")

    It takes precedence over the ``identify`` callback. Outside a captured request it does nothing.
    """
    capture = _found() or current.get()
    if capture is None:
        return
    if consumer is None or isinstance(consumer, Consumer):
        capture.consumer = consumer
    elif isinstance(consumer, str) and consumer:
        capture.consumer = Consumer(id=consumer, name=name, group=group)


def record_exception(exc: BaseException) -> None:
    """Record an exception the framework turns into a response itself (Flask, Django, Litestar hooks)."""
    capture = _found() or current.get()
    if capture is not None and capture.error is None:
        capture.error = type(exc).__name__
