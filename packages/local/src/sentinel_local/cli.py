"""``sentinel-local``: run Sentinel's engines on this machine.

sentinel-local dev                 engines + services in the foreground until Ctrl-C (make dev)
sentinel-local up [--all | NAME…]  engines in the background on fixed ports (make up)
sentinel-local down                stop what `up` started (make down)
sentinel-local status              what runs, where
sentinel-local demo                a demo app and its traffic, against `dev` (make demo)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from sentinel_local._paths import state_dir
from sentinel_local._process import EngineError, port_is_open, stop_pid
from sentinel_local.dev import DEV_PORTS, SERVICES, make_engine, run_dev, say
from sentinel_local.engines import DEV_ENGINES, ENGINES


def _engines_file(root: Path) -> Path:
    return root / "engines.json"


def _read_engines(root: Path) -> dict[str, dict[str, Any]]:
    path = _engines_file(root)
    if not path.exists():
        return {}
    try:
        data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return data


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_up(root: Path, names: list[str]) -> int:
    recorded = _read_engines(root)
    for name in names:
        info = recorded.get(name)
        if info and _alive(info.get("pid")) and port_is_open(int(info["port"])):
            say("up", f"{name} already runs at {info['url']} (pid {info['pid']})")
            continue
        if port_is_open(DEV_PORTS[name]):
            say("up", f"port {DEV_PORTS[name]} of {name} is taken by another program; not starting {name}")
            return 1
        say("up", f"starting {name} ...")
        started = time.monotonic()
        engine = make_engine(name, root, detached=True)
        try:
            engine.start()
        except EngineError as exc:
            say("up", f"{name} failed: {exc}", sys.stderr)
            return 1
        recorded[name] = engine.describe()
        _engines_file(root).write_text(json.dumps(recorded, indent=2) + "\n")
        say(
            "up", f"{name} ready at {engine.url} in {time.monotonic() - started:.1f} s (pid {engine.describe()['pid']})"
        )
    return 0


def cmd_down(root: Path) -> int:
    recorded = _read_engines(root)
    if not recorded:
        say("down", "nothing recorded as running")
    for name, info in recorded.items():
        pid = info.get("pid")
        if pid and stop_pid(int(pid)):
            say("down", f"stopped {name} (pid {pid})")
        else:
            say("down", f"{name} was not running")
    _engines_file(root).unlink(missing_ok=True)
    return 0


def cmd_status(root: Path) -> int:
    recorded = _read_engines(root)
    for name in ENGINES:
        info = recorded.get(name)
        running = info is not None and _alive(info.get("pid"))
        state = f"running at {info['url']} (pid {info['pid']})" if running and info else "stopped"
        print(f"{name:>10}  {state}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sentinel-local", description="Run Sentinel's engines on this machine.")
    parser.add_argument("--dir", type=Path, default=None, help="state folder (default: .sentinel in the checkout)")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="engines and services in the foreground until Ctrl-C")
    dev.add_argument("--no-services", action="store_true", help="start the engines only")
    dev.add_argument("--any-free-port", action="store_true", help="free ports instead of the fixed ones (tests)")
    up = commands.add_parser("up", help="start engines in the background")
    up.add_argument("names", nargs="*", metavar="NAME", help=f"engines among {', '.join(ENGINES)}")
    up.add_argument("--all", action="store_true", help="every engine, not only those `make dev` needs")
    commands.add_parser("down", help="stop the engines `up` started")
    commands.add_parser("status", help="show which engines run")
    demo = commands.add_parser("demo", help="a demo app instrumented with the SDK, and traffic, against `dev`")
    demo.add_argument(
        "--port", type=int, default=None, help="port of the demo app (default 8310 when free; 0 for any free port)"
    )
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)

    root: Path = (args.dir or state_dir()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if args.command == "dev":
        return run_dev(root, DEV_ENGINES, () if args.no_services else SERVICES, any_free_port=args.any_free_port)
    if args.command == "up":
        names = list(ENGINES) if args.all else (args.names or list(DEV_ENGINES))
        unknown = sorted(set(names) - set(ENGINES))
        if unknown:
            parser.error(f"unknown engine {', '.join(unknown)}; known: {', '.join(ENGINES)}")
        return cmd_up(root, names)
    if args.command == "down":
        return cmd_down(root)
    if args.command == "demo":
        from sentinel_local.demo import run_demo

        return run_demo(root, port=args.port, duration=args.duration)
    return cmd_status(root)


if __name__ == "__main__":
    raise SystemExit(main())
