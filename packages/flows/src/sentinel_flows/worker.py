"""``TaskQueueWorker``: the worker side of flows on Step Functions.

Each Task state sends a ``TaskRequest`` to the task queue and waits for its token. The worker reads the queue,
runs the named handler from the same ``HandlerRegistry`` the local runner uses, and answers the token with
SendTaskSuccess / SendTaskFailure. A message is deleted once its token is answered (or cannot be any more); if the
worker dies first, SQS delivers the message again after the visibility timeout.
"""

from __future__ import annotations

import msgspec
import structlog

from sentinel_flows._sqs import QueueConsumer
from sentinel_flows.aws import AwsClients
from sentinel_flows.model import TaskTokenInvalid
from sentinel_flows.settings import FlowSettings
from sentinel_flows.stepfunctions import StepFunctionsRunner
from sentinel_flows.tasks import HandlerRegistry, TaskAnswerer, TaskRequest, run_task

log = structlog.get_logger("sentinel.flows")


class TaskQueueWorker(QueueConsumer):
    """Runs task requests from ``settings.task_queue_url`` with ``registry``'s handlers (``run(stop)`` in the
    worker process, or ``poll_once()``).

    ``answerer`` defaults to a ``StepFunctionsRunner`` on the same clients.
    """

    def __init__(
        self,
        clients: AwsClients,
        settings: FlowSettings,
        registry: HandlerRegistry,
        *,
        answerer: TaskAnswerer | None = None,
    ) -> None:
        super().__init__(clients, settings, settings.task_queue_url, what="tasks")
        self._registry = registry
        self._answerer = answerer or StepFunctionsRunner(clients, settings)

    async def handle(self, body: str) -> bool:
        """Run one task request; True when its message can be deleted."""
        try:
            request = msgspec.json.decode(body, type=TaskRequest)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("task_request_invalid", error=str(exc), body=body[:500])
            return True  # it can never succeed: do not let it come back
        try:
            deferred = not await run_task(self._registry, request, self._answerer)
        except TaskTokenInvalid:
            # The execution was stopped or the task timed out meanwhile: nobody waits for this answer.
            log.info("task_answer_dropped", handler=request.handler, state=request.state, execution=request.execution)
            return True
        log.info(
            "task_handled" if not deferred else "task_deferred",
            handler=request.handler,
            state=request.state,
            attempt=request.attempt,
            execution=request.execution,
        )
        return True
