"""``ModalRunner``: each script as one call of the deployed ``sentinel_sandbox.modal_app.run_script``.

The runner talks to Modal only through a ``ModalRemote``: ``ModalClientRemote`` is the real one (look the
function up with ``modal.Function.from_name``, ``spawn.aio``, poll ``FunctionCall.from_id(...).get.aio(timeout=0)``),
and ``sentinel_sandbox.testing.LocalModalRemote`` runs the same function body locally. Every remote call is
bounded by ``ModalSettings.request_timeout_s``: offline, Modal's client would otherwise retry for about a minute.
A run's id is its Modal function call id, so any process can poll or cancel it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import modal
import modal.exception

from sentinel_sandbox.runner import DEGRADED_AFTER_MS, Clock, failed, script_request, status_from_outcome
from sentinel_sandbox.settings import ModalSettings
from sentinel_sandbox.types import (
    HealthState,
    ProviderHealth,
    SandboxDisabled,
    SandboxHandle,
    SandboxRun,
    SandboxState,
    SandboxStatus,
    SandboxUnavailable,
)

T = TypeVar("T")


@dataclass(frozen=True)
class ModalPoll:
    """One look at a function call: still ``pending``, ``done`` with the outcome dict, ``failed``, or ``expired``."""

    state: Literal["pending", "done", "failed", "expired"]
    outcome: dict[str, Any] | None = None
    error: str = ""


class ModalRemote(Protocol):
    """The remote calls ``ModalRunner`` makes. Each raises ``SandboxUnavailable`` when Modal cannot be reached in
    time, so a fake must too."""

    async def spawn(self, request: dict[str, Any]) -> str:
        """Start one call of the script function with ``request``; returns the function call id."""
        ...

    async def poll(self, call_id: str) -> ModalPoll:
        """The call's state now, without waiting."""
        ...

    async def cancel(self, call_id: str) -> None:
        """Cancel the call and terminate its container."""
        ...

    async def ping(self) -> None:
        """Look the function up; raises ``SandboxUnavailable`` if Modal or the function is not there."""
        ...


class ModalClientRemote:
    """The real ``ModalRemote``, through the ``modal`` client and ``ModalSettings``' tokens."""

    def __init__(self, settings: ModalSettings) -> None:
        self.settings = settings
        self._client: modal.Client | None = None

    async def _bounded(self, what: str, call: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(call, self.settings.request_timeout_s)
        except TimeoutError:
            raise SandboxUnavailable(f"Modal: {what}: no answer within {self.settings.request_timeout_s} s") from None
        except (modal.exception.ConnectionError, modal.exception.AuthError, OSError) as exc:
            raise SandboxUnavailable(f"Modal: {what}: {type(exc).__name__}: {exc}") from exc

    async def _connect(self) -> modal.Client:
        if self._client is None:
            opened = modal.Client.from_credentials.aio(self.settings.token_id, self.settings.token_secret)
            self._client = await self._bounded("connect", opened)
        return self._client

    async def _function(self) -> modal.Function[..., Any, Any]:
        client = await self._connect()
        env = self.settings.environment or None
        return modal.Function.from_name(
            self.settings.app_name, self.settings.function_name, environment_name=env, client=client
        )

    def _not_deployed(self, exc: Exception) -> SandboxUnavailable:
        target = f"{self.settings.app_name}/{self.settings.function_name}"
        return SandboxUnavailable(f"Modal: {exc}; deploy {target} with `modal deploy -m sentinel_sandbox.modal_app`")

    async def spawn(self, request: dict[str, Any]) -> str:
        function = await self._function()
        try:
            call = await self._bounded("spawn", function.spawn.aio(request))
        except modal.exception.NotFoundError as exc:
            raise self._not_deployed(exc) from exc
        return str(call.object_id)

    async def poll(self, call_id: str) -> ModalPoll:
        client = await self._connect()
        call = modal.FunctionCall.from_id(call_id, client=client)
        try:
            outcome = await self._bounded("poll", call.get.aio(timeout=0))
        except (modal.exception.OutputExpiredError, modal.exception.NotFoundError):
            return ModalPoll("expired", error="Modal: the call is unknown or its output has expired")
        except modal.exception.TimeoutError:
            return ModalPoll("pending")
        except modal.exception.Error as exc:  # the function raised, was cancelled, or timed out remotely
            return ModalPoll("failed", error=f"Modal: {type(exc).__name__}: {exc}")
        return ModalPoll("done", outcome=outcome)

    async def cancel(self, call_id: str) -> None:
        client = await self._connect()
        call = modal.FunctionCall.from_id(call_id, client=client)
        await self._bounded("cancel", call.cancel.aio(terminate_containers=True))

    async def ping(self) -> None:
        function = await self._function()
        try:
            await self._bounded("look up the function", function.hydrate.aio())
        except modal.exception.NotFoundError as exc:
            raise self._not_deployed(exc) from exc

    async def aclose(self) -> None:
        """Close the Modal client."""
        if self._client is not None:
            await self._client.close.aio()
            self._client = None


class ModalRunner:
    """Runs each script as a call of the deployed Modal function, through a ``ModalRemote``."""

    provider = "modal"

    def __init__(self, settings: ModalSettings, remote: ModalRemote | None = None) -> None:
        """``remote`` defaults to ``ModalClientRemote(settings)``; pass a fake only in tests."""
        self.settings = settings
        self.remote: ModalRemote = remote or ModalClientRemote(settings)
        self._configured = remote is not None or settings.configured
        self._cancelled: set[str] = set()

    async def start(self, run: SandboxRun) -> SandboxHandle:
        """Spawn the call; raises ``SandboxDisabled`` without tokens, ``SandboxUnavailable`` if Modal is out of
        reach within ``request_timeout_s``."""
        if not self._configured:
            raise SandboxDisabled(
                "Modal is not configured: set SENTINEL_MODAL_TOKEN_ID and SENTINEL_MODAL_TOKEN_SECRET"
            )
        call_id = await self.remote.spawn(script_request(run))
        return SandboxHandle(provider="modal", run_id=call_id, job_id=run.job_id)

    async def status(self, handle: SandboxHandle) -> SandboxStatus:
        """Poll the call once. Modal does not tell queued from running: a pending call is ``running``."""
        if handle.run_id in self._cancelled:
            return SandboxStatus(state=SandboxState.CANCELLED, error="cancelled")
        poll = await self.remote.poll(handle.run_id)
        if poll.state == "pending":
            return SandboxStatus(state=SandboxState.RUNNING)
        if poll.state == "expired":
            return SandboxStatus(state=SandboxState.UNKNOWN, error=poll.error)
        if poll.state == "failed" or poll.outcome is None:
            return failed(poll.error or "Modal: the call returned nothing")
        return status_from_outcome(poll.outcome)

    async def cancel(self, handle: SandboxHandle) -> None:
        """Cancel the call and terminate its container."""
        await self.remote.cancel(handle.run_id)
        self._cancelled.add(handle.run_id)

    async def health(self) -> ProviderHealth:
        """Look the deployed function up within the timeout."""
        if not self._configured:
            return ProviderHealth(provider="modal", state=HealthState.NOT_CONFIGURED)
        clock = Clock()
        try:
            await self.remote.ping()
        except SandboxUnavailable as exc:
            return ProviderHealth(provider="modal", state=HealthState.DOWN, latency_ms=clock.ms, detail=str(exc))
        state = HealthState.DEGRADED if clock.ms > DEGRADED_AFTER_MS else HealthState.HEALTHY
        return ProviderHealth(provider="modal", state=state, latency_ms=clock.ms)

    async def aclose(self) -> None:
        """Close the remote's client, if it has one; calls go on running on Modal."""
        close = getattr(self.remote, "aclose", None)
        if close is not None:
            await close()
