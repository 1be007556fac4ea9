"""``sentinel-config``: print ``.env.example`` or a service's effective settings.

sentinel-config env-example sentinel_ingest.settings:Settings sentinel_worker.settings:Settings
sentinel-config show sentinel_ingest.settings:Settings
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

import msgspec

from sentinel_config._loader import SettingsError, load_settings, redacted, render_env_example


def _import(spec: str) -> type[msgspec.Struct]:
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise SystemExit(f"sentinel-config: {spec!r} is not of the form module:Class")
    cls = getattr(importlib.import_module(module_name), attribute)
    if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        raise SystemExit(f"sentinel-config: {spec} is not a settings Struct")
    return cls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sentinel-config", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    example = commands.add_parser("env-example", help="print .env.example for the given settings classes")
    example.add_argument("specs", nargs="+", metavar="module:Class")
    show = commands.add_parser("show", help="validate the environment and print the effective settings")
    show.add_argument("spec", metavar="module:Class")
    args = parser.parse_args(argv)

    if args.command == "env-example":
        sys.stdout.write(render_env_example(*(_import(spec) for spec in args.specs)))
        return 0
    try:
        settings = load_settings(_import(args.spec))
    except SettingsError as exc:
        print(f"sentinel-config: configuration error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(redacted(settings), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
