"""The common shape of a local engine: command, readiness probe, URL and the settings that point at it."""

from __future__ import annotations

import abc
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar, Self

from sentinel_local._process import LOOPBACK, EngineError, EngineNotInstalled, ManagedProcess, free_port


def http_status(url: str, timeout: float = 1.0) -> int:
    """Status code of a GET (4xx and 5xx included), or raise when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback engine URLs only
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def answers_ok(url: str, timeout: float = 1.0) -> bool:
    """True when a GET of ``url`` answers 200; False for any other answer or when nothing answers."""
    try:
        return http_status(url, timeout) == 200
    except OSError:
        return False


def require_program(name: str, hint: str, *candidates: str | None) -> str:
    """The first existing program among ``candidates`` or on PATH, else ``EngineNotInstalled`` saying how."""
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which(name)
    if found is None:
        raise EngineNotInstalled(f"{name} not found: {hint}")
    return found


class Engine(abc.ABC):
    """One engine process on loopback ports. ``start()`` returns when it answers; ``stop()`` always cleans up."""

    name: ClassVar[str]
    start_timeout: ClassVar[float] = 60.0

    def __init__(self, data_dir: Path, *, port: int | None = None, detached: bool = False) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.detached = detached
        self.process: ManagedProcess | None = None

    # --- what each engine defines -------------------------------------------------------------------------
    @abc.abstractmethod
    def command(self) -> list[str]:
        """The argv that runs the engine in the foreground."""

    @abc.abstractmethod
    def ready(self) -> bool:
        """True once the engine serves requests."""

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The URL clients use."""

    def env(self) -> dict[str, str]:
        """``SENTINEL_*`` variables that point Sentinel's services at this engine."""
        return {}

    def prepare(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Write configuration files before the first start (and before every restart)."""

    def after_start(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """One-time setup once the engine is ready."""

    def cwd(self) -> Path | None:
        return None

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self.fixed_port else 3
        for attempt in range(attempts):
            self.prepare()
            self.process = ManagedProcess(
                self.name, self.command(), log_path=self.log_path, cwd=self.cwd(), detached=self.detached
            )
            self.process.start()
            try:
                self.process.wait_ready(self.ready, self.start_timeout)
            except EngineError:
                self.process.stop()
                if attempt + 1 == attempts:
                    raise
                self.reassign_ports()  # another process may have taken a port between choice and bind
                continue
            break
        self.after_start()
        return self

    def reassign_ports(self) -> None:
        self.port = free_port()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL, as a crash would; data on disk stays."""
        if self.process is not None:
            self.process.kill()

    def restart(self) -> Self:
        """Stop and start again on the same ports and data."""
        self.stop()
        self.prepare()
        assert self.process is not None
        self.process = ManagedProcess(
            self.name, self.command(), log_path=self.log_path, cwd=self.cwd(), detached=self.detached
        )
        self.process.start()
        self.process.wait_ready(self.ready, self.start_timeout)
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.process.pid if self.process else None,
            "port": self.port,
            "url": self.url,
            "env": self.env(),
            "log": str(self.log_path),
            "data_dir": str(self.data_dir),
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} running={self.running()}>"


__all__ = ["LOOPBACK", "Engine", "EngineError", "EngineNotInstalled", "http_status", "require_program"]
