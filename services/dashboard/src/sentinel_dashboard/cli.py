"""``sentinel-dashboard``: run the dashboard and orchestration API, or administer tenants from a shell.

sentinel-dashboard [--host H] [--port P] [--workers N]
sentinel-dashboard admin create-tenant NAME
sentinel-dashboard admin create-project --tenant TEN NAME [--retention-days D]
sentinel-dashboard admin create-key --tenant TEN --project PRJ [--name N]
sentinel-dashboard admin revoke-key --tenant TEN --project PRJ KEY_ID
"""

from __future__ import annotations

import argparse
import os
import sys

from sentinel_config import SettingsError, env_name
from sentinel_control import hasher_from
from sentinel_dashboard.admin import add_admin_commands, run_admin
from sentinel_dashboard.settings import get_settings
from sentinel_service import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sentinel-dashboard", description="Run the Sentinel dashboard API.")
    parser.add_argument("--host", help="address to bind (default: SENTINEL_DASHBOARD_HOST)")
    parser.add_argument("--port", type=int, help="port to bind (default: SENTINEL_DASHBOARD_PORT)")
    parser.add_argument("--workers", type=int, help="worker processes (default: SENTINEL_DASHBOARD_WORKERS)")
    commands = parser.add_subparsers(dest="command")
    add_admin_commands(commands)
    args = parser.parse_args(argv)

    # Command-line options win over the environment; the app factory reads the environment in each worker.
    for option in ("host", "port", "workers"):
        value = getattr(args, option)
        if value is not None:
            os.environ[env_name("dashboard", option)] = str(value)
    settings = get_settings()
    try:
        hasher_from(settings.control)
    except SettingsError as exc:
        print(f"sentinel-dashboard: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.command == "admin":
        raise SystemExit(run_admin(args, settings))
    serve("sentinel_dashboard.app:create_app", settings.dashboard)


if __name__ == "__main__":
    main()
