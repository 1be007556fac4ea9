"""``sentinel-dashboard``: run the dashboard and orchestration API."""

from __future__ import annotations

import argparse
import os

from sentinel_config import env_name
from sentinel_dashboard.settings import get_settings
from sentinel_service import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="sentinel-dashboard", description="Run the Sentinel dashboard and orchestration API."
    )
    parser.add_argument("--host", help="address to bind (default: SENTINEL_DASHBOARD_HOST)")
    parser.add_argument("--port", type=int, help="port to bind (default: SENTINEL_DASHBOARD_PORT)")
    parser.add_argument("--workers", type=int, help="worker processes (default: SENTINEL_DASHBOARD_WORKERS)")
    args = parser.parse_args(argv)
    # Command-line options win over the environment; the app factory reads the environment in each worker.
    for option in ("host", "port", "workers"):
        value = getattr(args, option)
        if value is not None:
            os.environ[env_name("dashboard", option)] = str(value)
    settings = get_settings()
    serve("sentinel_dashboard.app:create_app", settings.dashboard)


if __name__ == "__main__":
    main()
