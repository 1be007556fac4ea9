"""Sentinel SDK: one-line API analytics middleware for ASGI, WSGI, FastAPI, Starlette, Litestar, Flask and Django.

::

    from sentinel_sdk.starlette import SentinelMiddleware

    app.add_middleware(SentinelMiddleware, api_key="...", endpoint="https://ingest.example.com")

Each framework has its own module (``sentinel_sdk.asgi``, ``.wsgi``, ``.starlette``, ``.litestar``, ``.flask``,
``.django``); this package holds what they share: the ``Client`` and ``set_consumer``.
"""

from sentinel_sdk._capture import set_consumer
from sentinel_sdk._client import Client
from sentinel_sdk._version import __version__
from sentinel_types import Consumer

__all__ = ["Client", "Consumer", "__version__", "set_consumer"]
