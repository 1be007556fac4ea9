"""A local ClickHouse server: the real engine from the pinned ``chdb-core`` wheel, served over HTTP."""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path

from sentinel_local._engine import LOOPBACK, Engine, http_status
from sentinel_local._process import free_port

_CONFIG = """<clickhouse>
    <listen_host>{host}</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
</clickhouse>
"""


class ClickHouseEngine(Engine):
    """ClickHouse HTTP on ``port`` (and native TCP on ``tcp_port``); user ``default`` without password."""

    name = "clickhouse"
    start_timeout = 60.0

    def __init__(
        self, data_dir: Path, *, port: int | None = None, tcp_port: int | None = None, detached: bool = False
    ) -> None:
        super().__init__(data_dir, port=port, detached=detached)
        self.tcp_port = tcp_port if tcp_port is not None else free_port()

    def cwd(self) -> Path:
        return self.data_dir

    def prepare(self) -> None:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        config = _CONFIG.format(host=LOOPBACK, http_port=self.port, tcp_port=self.tcp_port)
        (self.data_dir / "config.xml").write_text(config)

    def reassign_ports(self) -> None:
        super().reassign_ports()
        self.tcp_port = free_port()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "sentinel_local._clickhouse_child", str(self.data_dir / "data")]

    def ready(self) -> bool:
        query = urllib.parse.quote("SELECT 1")
        return http_status(f"{self.url}/?query={query}") == 200

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"SENTINEL_CLICKHOUSE_URL": self.url}
