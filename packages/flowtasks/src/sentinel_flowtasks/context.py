"""Building an ``AnalysisContext`` from a service's settings sections (the dashboard's and the worker's)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis

from sentinel_analytics import create_client
from sentinel_config import AnalyticsSettings, ArchiveSettings, AwsSettings, ClickHouseSettings
from sentinel_control import ControlStore
from sentinel_flowtasks.analysis import AnalysisContext, Exporter
from sentinel_flowtasks.export import export_events
from sentinel_flowtasks.settings import CALLBACK_PATH, AnalysisSettings
from sentinel_sandbox import E2BSettings, LocalSandboxSettings, ModalSettings, SandboxRunner
from sentinel_storage import LocalUrlSigner, ObjectStore, open_object_store


def sandbox_runners(e2b: E2BSettings, modal: ModalSettings, local: LocalSandboxSettings) -> dict[str, SandboxRunner]:
    """The runners this process may use: E2B with an API key or in debug mode, Modal with a token, the local
    (not isolated) runner only when enabled."""
    runners: dict[str, SandboxRunner] = {}
    if e2b.api_key or e2b.debug:
        from sentinel_sandbox.e2b_runner import E2BRunner

        runners["e2b"] = E2BRunner(e2b)
    if modal.configured:
        from sentinel_sandbox.modal_runner import ModalRunner

        runners["modal"] = ModalRunner(modal)
    if local.enabled:
        from sentinel_sandbox.local_runner import LocalRunner

        runners["local"] = LocalRunner(local)
    return runners


class ClickHouseExporter:
    """Exports from ClickHouse over one lazily opened client."""

    def __init__(self, settings: ClickHouseSettings, *, max_rows: int, max_bytes: int) -> None:
        self._settings = settings
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._client: Any = None

    async def __call__(self, project_id: str, start_ms: int, end_ms: int) -> tuple[bytes, int]:
        if self._client is None:
            self._client = await create_client(self._settings)
        return await export_events(
            self._client, project_id, start_ms, end_ms, max_rows=self._max_rows, max_bytes=self._max_bytes
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


async def _no_export(project_id: str, start_ms: int, end_ms: int) -> tuple[bytes, int]:
    raise RuntimeError("exporting a window needs the ClickHouse backend (SENTINEL_ANALYTICS_BACKEND=clickhouse)")


async def open_analysis_context(
    *,
    analysis: AnalysisSettings,
    public_url: str,
    server_secret: str,
    control: ControlStore,
    client: redis.Redis,
    analytics: AnalyticsSettings,
    clickhouse: ClickHouseSettings,
    archive: ArchiveSettings,
    aws: AwsSettings,
    e2b: E2BSettings,
    modal: ModalSettings,
    sandbox_local: LocalSandboxSettings,
    runners: dict[str, SandboxRunner] | None = None,
    objects: ObjectStore | None = None,
) -> AnalysisContext:
    """A context over the service's own clients; close it with ``close_analysis_context``.

    ``public_url`` is where sandboxes reach the dashboard: the callback route, and the local backend's object URLs.
    ``objects`` is the process's object store if it has one already (it is then not closed here).
    """
    owned = objects is None
    if objects is None:
        objects = open_object_store(archive, aws, url_signer=LocalUrlSigner(server_secret, public_url))
    export: Exporter = _no_export
    if analytics.backend == "clickhouse":
        export = ClickHouseExporter(
            clickhouse, max_rows=analysis.max_export_rows, max_bytes=analysis.max_export_mb * 1_000_000
        )
    return AnalysisContext(
        settings=analysis,
        server_secret=server_secret,
        callback_url=public_url + CALLBACK_PATH,
        control=control,
        redis=client,
        objects=objects,
        export=export,
        runners=runners if runners is not None else sandbox_runners(e2b, modal, sandbox_local),
        owns_objects=owned,
    )


async def close_analysis_context(context: AnalysisContext) -> None:
    """Stop watchers, close the sandbox runners, the exporter's client and the object store."""
    await context.aclose()
    for runner in context.runners.values():
        await runner.aclose()
    if isinstance(context.export, ClickHouseExporter):
        await context.export.close()
    if context.owns_objects:
        await context.objects.close()
