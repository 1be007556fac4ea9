from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sentinel_config import SettingsError, load_section
from sentinel_flows import (
    FlowSettings,
    HandlerRegistry,
    InProcessSyncDispatcher,
    LocalFlowRunner,
    SyncRequest,
    create_flow_runner,
    create_sync_trigger,
)
from sentinel_flows.sync import sync_request

AWS_ENV = {
    "SENTINEL_FLOWS_BACKEND": "aws",
    "SENTINEL_FLOWS_STATE_MACHINE_ROLE_ARN": "arn:aws:iam::123456789012:role/sentinel-flows",
    "SENTINEL_FLOWS_TASK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sentinel-tasks",
    "SENTINEL_FLOWS_SYNC_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sentinel-syncs",
}


class TestFlowSettings:
    def test_defaults_run_everything_in_process(self) -> None:
        settings = load_section("flows", FlowSettings, {})
        assert (settings.backend, settings.event_bus_name, settings.state_machine_prefix) == (
            "local",
            "default",
            "sentinel-",
        )

    def test_aws_backend_loads_from_the_environment(self) -> None:
        settings = load_section("flows", FlowSettings, {**AWS_ENV, "SENTINEL_FLOWS_EVENT_BUS_NAME": "sentinel"})
        assert settings.backend == "aws"
        assert settings.event_bus_name == "sentinel"

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("SENTINEL_FLOWS_STATE_MACHINE_ROLE_ARN", ""),
            ("SENTINEL_FLOWS_STATE_MACHINE_ROLE_ARN", "sentinel-role"),
            ("SENTINEL_FLOWS_TASK_QUEUE_URL", ""),
            ("SENTINEL_FLOWS_SYNC_QUEUE_URL", "sqs://queue"),
        ],
    )
    def test_aws_backend_names_the_missing_or_wrong_variable(self, variable: str, value: str) -> None:
        with pytest.raises(SettingsError) as raised:
            load_section("flows", FlowSettings, {**AWS_ENV, variable: value})
        assert raised.value.variable == variable

    def test_factories_follow_the_backend(self) -> None:
        local = FlowSettings()
        assert isinstance(create_flow_runner(local, registry=HandlerRegistry()), LocalFlowRunner)
        assert isinstance(create_sync_trigger(local, handler=_ignore), InProcessSyncDispatcher)
        aws = load_section("flows", FlowSettings, AWS_ENV)
        with pytest.raises(ValueError, match="AwsClients"):
            create_flow_runner(aws, registry=HandlerRegistry())


class TestSyncRequest:
    def test_unknown_connector_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="archive-replay, s3-access-logs"):
            sync_request("job", "proj", "ftp-import", {})

    def test_params_arrive_as_json_would_carry_them(self) -> None:
        request = sync_request("job", "proj", "s3-access-logs", {"prefix": "logs/", "range": (1, 2)})
        assert (request.connector, request.params) == ("s3-access-logs", {"prefix": "logs/", "range": [1, 2]})
        assert request.requested_at.tzinfo is not None

    @pytest.mark.parametrize(("job_id", "params"), [("job", {"x": object()}), (7, {})])
    def test_params_that_json_cannot_carry_and_wrong_types_are_refused(self, job_id: Any, params: Any) -> None:
        with pytest.raises(ValueError, match="invalid sync request"):
            sync_request(job_id, "proj", "archive-replay", params)


class TestInProcessDispatcher:
    async def test_runs_the_handler_in_the_background(self) -> None:
        received: list[SyncRequest] = []

        async def handler(request: SyncRequest) -> None:
            await asyncio.sleep(0)
            received.append(request)

        dispatcher = InProcessSyncDispatcher(handler)
        event_id = await dispatcher.put_sync_requested("job-1", "proj-1", "archive-replay", {"from": "2026-01-01"})
        await dispatcher.join()
        assert event_id
        [request] = received
        assert (request.job_id, request.project_id, request.connector, request.params) == (
            "job-1",
            "proj-1",
            "archive-replay",
            {"from": "2026-01-01"},
        )

    async def test_a_failing_sync_does_not_break_the_dispatcher(self) -> None:
        calls: list[str] = []

        async def handler(request: SyncRequest) -> None:
            calls.append(request.job_id)
            if request.job_id == "bad":
                raise RuntimeError("connector crashed")

        dispatcher = InProcessSyncDispatcher(handler)
        await dispatcher.put_sync_requested("bad", "p", "archive-replay", {})
        await dispatcher.put_sync_requested("good", "p", "archive-replay", {})
        await dispatcher.join()
        assert sorted(calls) == ["bad", "good"]

    async def test_aclose_cancels_running_syncs(self) -> None:
        started = asyncio.Event()

        async def handler(request: SyncRequest) -> None:
            started.set()
            await asyncio.Event().wait()

        dispatcher = InProcessSyncDispatcher(handler)
        await dispatcher.put_sync_requested("job", "p", "archive-replay", {})
        await started.wait()
        await dispatcher.aclose()
        await dispatcher.join()  # returns: nothing is left running
        assert started.is_set()


async def _ignore(request: SyncRequest) -> None:
    del request
