"""Run a service's ASGI app with uvicorn from its ``HttpServerSettings``."""

from __future__ import annotations

import uvicorn

from sentinel_config import HttpServerSettings


def serve(app_factory: str, server: HttpServerSettings) -> None:
    """Serve ``module:create_app`` (a factory taking no arguments) until SIGINT/SIGTERM, then drain and stop."""
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
    )
