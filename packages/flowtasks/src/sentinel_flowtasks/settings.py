"""``AnalysisSettings``: how the analysis flow's handlers run scripts (``SENTINEL_ANALYSIS_*``).

Composed into the dashboard's settings (local runner: the handlers run there) and the worker's (Step Functions:
the task queue worker runs them) under the name ``analysis``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from sentinel_config import InvalidSetting, require_url

SandboxProvider = Literal["e2b", "modal", "local"]

CALLBACK_PATH = "/api/webhooks/sandbox-callback"


class AnalysisSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The analysis flow: sandbox choice and limits, where scripts call back, how long their data URL lives."""

    public_url: Annotated[
        str,
        Meta(
            description="Base URL at which sandboxes reach the dashboard API (callbacks go to "
            "<public_url>/api/webhooks/sandbox-callback); empty means http://127.0.0.1:<dashboard port>"
        ),
    ] = ""
    sandbox: Annotated[
        SandboxProvider, Meta(description="Sandbox a flow runs its script in unless its input names one")
    ] = "e2b"
    wall_s: Annotated[float, Meta(description="Wall-clock limit of one script run, seconds", gt=0, le=86_400)] = 300.0
    cpu_s: Annotated[int, Meta(description="CPU-time limit of one script run, seconds", ge=1, le=86_400)] = 120
    memory_mb: Annotated[int, Meta(description="Memory limit of one script run, MB", ge=64, le=65_536)] = 1024
    data_url_ttl_s: Annotated[
        int, Meta(description="Lifetime of the presigned URL a script reads its data from, seconds", ge=60, le=604_800)
    ] = 3600
    max_window_days: Annotated[int, Meta(description="Longest window one analysis may export, days", ge=1, le=366)] = 31
    max_export_rows: Annotated[
        int, Meta(description="Most events one analysis may export (a wider window fails its job)", ge=1)
    ] = 2_000_000
    max_export_mb: Annotated[
        int, Meta(description="Largest export one analysis may hold and store, MB of NDJSON", ge=1, le=65_536)
    ] = 1_024
    usage_wait_s: Annotated[
        float,
        Meta(
            description="How long notify waits for the sandbox's billed seconds before recording the job", ge=0, le=60
        ),
    ] = 5.0
    no_callback_grace_s: Annotated[
        float,
        Meta(description="Seconds after a sandbox run ends without a callback before its task fails", ge=0, le=3600),
    ] = 10.0

    def __post_init__(self) -> None:
        require_url("public_url", self.public_url, ("http", "https"), allow_empty=True)
        if self.public_url.endswith("/"):
            raise InvalidSetting("public_url", "must not end with '/'")

    def base_url(self, dashboard_port: int) -> str:
        """Where sandboxes reach the dashboard API (callbacks, local object URLs)."""
        return self.public_url or f"http://127.0.0.1:{dashboard_port}"
