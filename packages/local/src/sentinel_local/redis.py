"""A local ``redis-server`` (Debian package ``redis-server``)."""

from __future__ import annotations

import socket
from pathlib import Path

from sentinel_local._engine import LOOPBACK, Engine, require_program


class RedisEngine(Engine):
    """Redis on a loopback port. ``persistent=True`` turns the append-only file on, so data survives a restart."""

    name = "redis"
    start_timeout = 20.0

    def __init__(
        self, data_dir: Path, *, port: int | None = None, detached: bool = False, persistent: bool = False
    ) -> None:
        super().__init__(data_dir, port=port, detached=detached)
        self.persistent = persistent

    def command(self) -> list[str]:
        program = require_program(
            "redis-server", "install it with `apt-get install -y redis-server` (or run `make engines`)"
        )
        return [
            program,
            "--bind", LOOPBACK,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--appendfsync", "everysec",
            "--logfile", "",
        ]  # fmt: skip

    def ready(self) -> bool:
        with socket.create_connection((LOOPBACK, self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def env(self) -> dict[str, str]:
        return {"SENTINEL_REDIS_URL": self.url}
