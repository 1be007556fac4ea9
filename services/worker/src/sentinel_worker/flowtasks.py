"""Flow tasks in the worker (``SENTINEL_FLOWS_BACKEND=aws``): the Task states of the flows' Step Functions
executions arrive on the task queue and run here with the analysis handlers of ``sentinel_flowtasks``; each
answer (or the wait for a sandbox's callback) goes back to Step Functions."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis
import structlog

from sentinel_control import open_control_store
from sentinel_flows import AwsClients, StepFunctionsRunner, TaskQueueWorker
from sentinel_flowtasks import analysis_registry
from sentinel_flowtasks.context import close_analysis_context, open_analysis_context
from sentinel_worker.settings import DASHBOARD_DEFAULT_PORT, Settings

log = structlog.get_logger("sentinel.worker")


async def run_flow_tasks(settings: Settings, client: redis.Redis, stop: asyncio.Event) -> None:
    """Consume the task queue until ``stop`` is set (tasks in hand are finished first). If it cannot run (the
    control store is unreachable at start-up, ...), it sets ``stop`` so the whole worker drains and exits."""
    try:
        await _consume(settings, client, stop)
    except BaseException:
        stop.set()
        raise


async def _consume(settings: Settings, client: redis.Redis, stop: asyncio.Event) -> None:
    if not settings.analysis.public_url:
        log.warning(
            "analysis_public_url_unset",
            detail="sandboxes started here call back the dashboard on this host; set SENTINEL_ANALYSIS_PUBLIC_URL",
        )
    control = open_control_store(settings.control, settings.aws)
    clients = AwsClients(settings.aws)
    try:
        await control.setup()
        context = await open_analysis_context(
            analysis=settings.analysis,
            public_url=settings.analysis.base_url(DASHBOARD_DEFAULT_PORT),
            server_secret=settings.control.hash_secret,
            control=control,
            client=client,
            analytics=settings.analytics,
            clickhouse=settings.clickhouse,
            archive=settings.archive,
            aws=settings.aws,
            e2b=settings.e2b,
            modal=settings.modal,
            sandbox_local=settings.sandbox_local,
        )
        try:
            answerer = StepFunctionsRunner(clients, settings.flows)
            context.answerer = answerer
            worker = TaskQueueWorker(clients, settings.flows, analysis_registry(context), answerer=answerer)
            log.info("flow_tasks_started", queue=settings.flows.task_queue_url)
            await worker.run(stop)
        finally:
            await close_analysis_context(context)
    finally:
        await clients.aclose()
        await control.close()
        log.info("flow_tasks_stopped")
