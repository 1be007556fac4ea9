"""``make dev``: the local engines and every service as separate processes, until Ctrl-C.

Services run through their production entry points (``sentinel-ingest``, ``sentinel-worker``,
``sentinel-dashboard``) with ``SENTINEL_*`` variables pointing at the local engines. Each service's lines are
prefixed with its name; a service that crashes is reported and restarted with backoff; Ctrl-C or SIGTERM stops
the services, then the engines, and leaves no process behind.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from sentinel_local._engine import Engine
from sentinel_local._process import ManagedProcess, free_port, port_is_open, venv_bin
from sentinel_local.engines import DEV_ENGINES, ENGINES
from sentinel_local.seed import ensure_demo, write_private_json

#: Fixed ports of the development stack (tests use free ports instead).
DEV_PORTS = {"redis": 6390, "clickhouse": 8124, "dynamodb": 8010, "s3": 8333, "moto": 5010}
CLICKHOUSE_DEV_TCP_PORT = 9004
SERVICE_PORTS = {"dashboard": 8300, "ingest": 8301, "worker": 8302}
SERVICES = ("ingest", "worker", "dashboard")

_COLORS = {"ingest": "\033[36m", "worker": "\033[35m", "dashboard": "\033[32m", "dev": "\033[33m"}
_RESET = "\033[0m"
_print_lock = threading.Lock()


def say(source: str, line: str, stream: IO[str] | None = None) -> None:
    """Print ``line`` prefixed with ``source``, coloured on a terminal."""
    out = stream or sys.stdout
    prefix = f"{source:>9} |"
    if out.isatty():
        prefix = f"{_COLORS.get(source, '')}{prefix}{_RESET}"
    with _print_lock:
        out.write(f"{prefix} {line}\n")
        out.flush()


def free_ports() -> tuple[dict[str, int], dict[str, int]]:
    """Engine and service ports all chosen free (for tests that run the dev stack beside another one)."""
    return {name: free_port() for name in DEV_PORTS}, {name: free_port() for name in SERVICE_PORTS}


def make_engine(name: str, root: Path, *, detached: bool, port: int | None = None) -> Engine:
    """An engine on its development port (or ``port``), with its data under ``root/engines/<name>``."""
    data = root / "engines" / name
    fixed = port is None
    port = DEV_PORTS[name] if port is None else port
    if name == "clickhouse":
        from sentinel_local.clickhouse import ClickHouseEngine

        tcp_port = CLICKHOUSE_DEV_TCP_PORT if fixed else free_port()
        return ClickHouseEngine(data, port=port, tcp_port=tcp_port, detached=detached)
    if name == "redis":
        from sentinel_local.redis import RedisEngine

        return RedisEngine(data, port=port, detached=detached, persistent=True)
    return ENGINES[name](data, port=port, detached=detached)


class Service:
    """One service process under supervision, its output shown prefixed with its name."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        program = venv_bin(f"sentinel-{name}") or f"sentinel-{name}"
        self.process = ManagedProcess(
            name, [program], log_path=log_dir / f"{name}.log", env=env, on_line=lambda line: say(name, line)
        )
        self.restarts = 0
        self.started_at = 0.0
        self.restart_due: float | None = None

    def start(self) -> None:
        self.process.start()
        self.started_at = time.monotonic()


def write_dev_json(
    root: Path, engines: Sequence[Engine], services: Sequence[Service], service_ports: Mapping[str, int]
) -> Path:
    """Record where everything runs in ``.sentinel/dev.json``; later steps add credentials to the same file."""
    path = root / "dev.json"
    current: dict[str, object] = {}
    if path.exists():
        try:
            current = json.loads(path.read_text())
        except json.JSONDecodeError:
            current = {}
    current.update(
        {
            "ingest_url": f"http://127.0.0.1:{service_ports['ingest']}",
            "dashboard_url": f"http://127.0.0.1:{service_ports['dashboard']}",
            "worker_url": f"http://127.0.0.1:{service_ports['worker']}",
            "engines": {engine.name: engine.url for engine in engines},
            "pids": {
                **{engine.name: engine.process.pid for engine in engines if engine.process},
                **{service.name: service.process.pid for service in services},
            },
        }
    )
    write_private_json(path, current)
    return path


def hash_secret(root: Path) -> str:
    """The development server secret: generated once into ``root/hash_secret`` and reused, so that keys and
    tokens issued by an earlier run keep working."""
    path = root / "hash_secret"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def service_env(root: Path, engines: Sequence[Engine], service_ports: Mapping[str, int]) -> dict[str, str]:
    env = {
        "SENTINEL_LOG_FORMAT": os.environ.get("SENTINEL_LOG_FORMAT", "console"),
        "SENTINEL_CONTROL_HASH_SECRET": os.environ.get("SENTINEL_CONTROL_HASH_SECRET") or hash_secret(root),
        "SENTINEL_CONTROL_SQLITE_PATH": str(root / "control.db"),
        "SENTINEL_ARCHIVE_LOCAL_DIR": str(root / "archive"),
        **{f"SENTINEL_{name.upper()}_PORT": str(port) for name, port in service_ports.items()},
    }
    for engine in engines:
        env.update(engine.env())
    return env


def run_dev(
    root: Path,
    engine_names: Sequence[str] = DEV_ENGINES,
    services: Sequence[str] = SERVICES,
    *,
    any_free_port: bool = False,
) -> int:
    """Run the stack in the foreground until SIGINT/SIGTERM. Returns the exit status."""
    engine_ports, service_ports = free_ports() if any_free_port else (DEV_PORTS, SERVICE_PORTS)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    engines: list[Engine] = []
    running: list[Service] = []
    try:
        for name in engine_names:
            if stop.is_set():
                return 130
            port = engine_ports[name]
            if port_is_open(port):
                say("dev", f"port {port} of {name} is taken: stop what uses it (`make down`?)")
                return 1
            say("dev", f"starting {name} on port {port} ...")
            started = time.monotonic()
            engine = make_engine(name, root, detached=False, port=None if not any_free_port else port)
            engine.start()
            engines.append(engine)
            say("dev", f"{name} ready at {engine.url} in {time.monotonic() - started:.1f} s")
        env = service_env(root, engines, service_ports)
        for name in services:
            service = Service(name, env, root / "logs")
            service.start()
            running.append(service)
            say("dev", f"started {name} (pid {service.process.pid})")
        dev_json = write_dev_json(root, engines, running, service_ports)
        dashboard_url = f"http://127.0.0.1:{service_ports['dashboard']}"
        if "dashboard" in services:
            credentials, created = ensure_demo(dev_json, dashboard_url, env)
            current = json.loads(dev_json.read_text())
            write_private_json(dev_json, {**current, **credentials})
            say(
                "dev",
                ("created" if created else "kept") + f" demo tenant {credentials['tenant_id']}, "
                f"project {credentials['project_id']}",
            )
            say("dev", f"dashboard token: {credentials['dashboard_token']}")
            say("dev", f"ingest key:      {credentials['ingest_key']}")
        say("dev", f"ingest    http://127.0.0.1:{service_ports['ingest']}")
        say("dev", f"dashboard {dashboard_url}/ (sign in with the dashboard token; `make demo` sends it traffic)")
        say("dev", f"wrote {dev_json}; press Ctrl-C to stop everything")
        _supervise(running, stop, lambda: write_dev_json(root, engines, running, service_ports))
        return 0
    finally:
        for service in reversed(running):
            service.process.stop(timeout=15)
        for engine in reversed(engines):
            say("dev", f"stopping {engine.name} ...")
            engine.stop()
        say("dev", "stopped")


def _supervise(services: Sequence[Service], stop: threading.Event, on_restart: Callable[[], object]) -> None:
    """Restart crashed services with exponential backoff (1 s, 2 s, 4 s ... 30 s) until ``stop`` is set."""
    while not stop.wait(0.5):
        now = time.monotonic()
        for service in services:
            if service.process.running():
                if service.restarts and now - service.started_at > 60:
                    service.restarts = 0  # up for a minute: forget earlier crashes
                continue
            if service.restart_due is None:
                delay = min(30.0, 2.0**service.restarts)
                say(
                    "dev",
                    f"{service.name} exited with status {service.process.returncode()}; restarting in {delay:.0f} s",
                )
                service.restart_due = now + delay
            elif now >= service.restart_due:
                service.restarts += 1
                service.restart_due = None
                say("dev", f"restarting {service.name} (restart #{service.restarts})")
                service.start()
                on_restart()
