"""Run a service's ASGI app with uvicorn from its ``HttpServerSettings``."""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn

from sentinel_config import HttpServerSettings


def _stopped(signum: int, frame: FrameType | None) -> None:
    """After a graceful shutdown uvicorn raises the stop signal again; by then there is nothing left to do."""


def serve(app_factory: str, server: HttpServerSettings) -> None:
    """Serve ``module:create_app`` (a factory taking no arguments) until SIGINT/SIGTERM, then drain and stop.

    A stop signal ends the process with status 0 once in-flight requests are done (or the graceful timeout
    passed). ``server.server`` picks the ASGI server.
    """
    if server.server == "granian":
        _serve_granian(app_factory, server)
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)
    uvicorn.run(
        app_factory,
        factory=True,
        host=server.host,
        port=server.port,
        workers=server.workers,
        timeout_graceful_shutdown=int(server.graceful_timeout_s),
        log_config=None,  # logging is configured by sentinel_config.configure_logging
        access_log=False,
        server_header=False,
        proxy_headers=False,
        limit_concurrency=server.max_connections,
    )


def _serve_granian(app_factory: str, server: HttpServerSettings) -> None:
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    Server(
        app_factory,
        address=server.host,
        port=server.port,
        interface=Interfaces.ASGI,
        workers=server.workers,
        factory=True,
        loop=Loops.uvloop,
        log_enabled=False,  # the app configures logging in each worker
        workers_kill_timeout=int(server.graceful_timeout_s),
        # Granian serves this many connections per worker and leaves the next one waiting, however idle the
        # open ones are (its default, 1,024, hangs the 1,025th SDK holding a keep-alive connection).
        backpressure=server.max_connections,
        respawn_failed_workers=True,  # a worker that dies (out of memory, a crash in native code) is replaced
    ).serve()
