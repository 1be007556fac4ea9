"""``AwsClients``: the aioboto3 clients (Step Functions, SQS, EventBridge) shared by this package's AWS parts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from sentinel_config import AwsSettings

if TYPE_CHECKING:
    from types_aiobotocore_events.client import EventBridgeClient
    from types_aiobotocore_sqs.client import SQSClient
    from types_aiobotocore_stepfunctions.client import SFNClient


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ``ClientError`` (``ExecutionAlreadyExists``, ``InvalidToken``, ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


class AwsClients:
    """One aioboto3 session whose clients open on first use and close together with ``aclose``.

    Create one per process (in the service's lifespan) and hand it to ``StepFunctionsRunner``,
    ``TaskQueueWorker``, ``EventBridgePublisher`` and ``SyncQueueConsumer``.
    """

    def __init__(self, aws: AwsSettings | None = None, *, read_timeout_s: float = 60.0) -> None:
        aws = aws or AwsSettings()
        self._session = aioboto3.Session(
            aws_access_key_id=aws.access_key_id or None,
            aws_secret_access_key=aws.secret_access_key or None,
            region_name=aws.region,
        )
        self._endpoint_url = aws.endpoint_url or None
        # SQS long polls for up to 20 s, so reads must be allowed to take longer than that.
        self._config = AioConfig(
            connect_timeout=5, read_timeout=read_timeout_s, retries={"max_attempts": 3, "mode": "standard"}
        )
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def _client(self, service: str) -> Any:
        async with self._lock:
            if service not in self._clients:
                creator: Any = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                )
                self._clients[service] = await self._stack.enter_async_context(creator)
            return self._clients[service]

    async def stepfunctions(self) -> SFNClient:
        """The Step Functions client."""
        client: SFNClient = await self._client("stepfunctions")
        return client

    async def sqs(self) -> SQSClient:
        """The SQS client."""
        client: SQSClient = await self._client("sqs")
        return client

    async def events(self) -> EventBridgeClient:
        """The EventBridge client."""
        client: EventBridgeClient = await self._client("events")
        return client

    async def aclose(self) -> None:
        """Close every client opened so far."""
        async with self._lock:
            await self._stack.aclose()
            self._clients.clear()
