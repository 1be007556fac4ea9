"""``sentinel-ingest``: run the ingest API."""

from __future__ import annotations

import argparse
import os
import sys

from sentinel_config import SettingsError, env_name
from sentinel_control import hasher_from
from sentinel_ingest.settings import get_settings
from sentinel_service import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sentinel-ingest", description="Run the Sentinel ingest API.")
    parser.add_argument("--host", help="address to bind (default: SENTINEL_INGEST_HOST)")
    parser.add_argument("--port", type=int, help="port to bind (default: SENTINEL_INGEST_PORT)")
    parser.add_argument("--workers", type=int, help="worker processes (default: SENTINEL_INGEST_WORKERS)")
    args = parser.parse_args(argv)
    # Command-line options win over the environment; the app factory reads the environment in each worker.
    for option in ("host", "port", "workers"):
        value = getattr(args, option)
        if value is not None:
            os.environ[env_name("ingest", option)] = str(value)
    settings = get_settings()
    try:
        hasher_from(settings.control)
    except SettingsError as exc:
        print(f"sentinel-ingest: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    serve("sentinel_ingest.app:create_asgi_app", settings.ingest)


if __name__ == "__main__":
    main()
