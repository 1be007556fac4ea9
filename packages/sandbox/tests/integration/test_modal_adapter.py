"""Modal: the adapter's failure modes against loopback stand-ins for an unreachable Modal, the remote side's
contract on the local stand-in, and the deployed function's body through ``.local()``."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from sentinel_sandbox import (
    HealthState,
    ModalSettings,
    SandboxDisabled,
    SandboxHandle,
    SandboxRun,
    SandboxUnavailable,
    modal_app,
)
from sentinel_sandbox.modal_runner import ModalPoll, ModalRunner
from sentinel_sandbox.runner import script_request
from sentinel_sandbox.testing import LocalModalRemote

MakeRun = Callable[..., SandboxRun]
DOES_NOT_HANG_S = 20  # Modal's own client takes about 60 s to give up when offline


async def _settled(remote: LocalModalRemote, call_id: str) -> ModalPoll:
    for _ in range(600):
        poll = await remote.poll(call_id)
        if poll.state != "pending":
            return poll
        await asyncio.sleep(0.05)
    raise AssertionError(f"call {call_id} still pending after 30 s")


@pytest.fixture(params=["silent", "refusing"])
def unreachable_modal(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Modal server URL on loopback that either accepts connections and never answers, or refuses them."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        if request.param == "silent":
            listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        monkeypatch.setenv("MODAL_SERVER_URL", url)  # Modal's own setting, read when its client connects
        yield url


class TestUnreachableModal:
    async def test_start_fails_fast_with_a_clear_error(self, unreachable_modal: str, make_run: MakeRun) -> None:
        runner = ModalRunner(ModalSettings(token_id="ak-test", token_secret="as-test", request_timeout_s=2))
        started = time.monotonic()

        with pytest.raises(
            SandboxUnavailable, match=r"^Modal: (connect|spawn): (no answer within 2 s|ConnectionError)"
        ):
            await runner.start(make_run("print('never')"))

        assert time.monotonic() - started < DOES_NOT_HANG_S
        await runner.aclose()

    async def test_health_is_down_without_hanging(self, unreachable_modal: str) -> None:
        runner = ModalRunner(ModalSettings(token_id="ak-test", token_secret="as-test", request_timeout_s=2))
        started = time.monotonic()

        health = await runner.health()

        assert health.state == HealthState.DOWN
        assert health.detail.startswith(("Modal: connect: ", "Modal: look up the function: "))
        assert time.monotonic() - started < DOES_NOT_HANG_S

    async def test_without_tokens_modal_is_not_configured(self, make_run: MakeRun) -> None:
        runner = ModalRunner(ModalSettings())

        with pytest.raises(SandboxDisabled, match="SENTINEL_MODAL_TOKEN_ID"):
            await runner.start(make_run("print('never')"))
        assert (await runner.health()).state == HealthState.NOT_CONFIGURED


class TestModalRemoteContract:
    """What ``ModalRunner`` relies on from a remote, shown on the local stand-in."""

    async def test_spawn_returns_a_call_id_that_polls_pending_then_done(self, make_run: MakeRun) -> None:
        remote = LocalModalRemote()
        call_id = await remote.spawn(script_request(make_run("import time\ntime.sleep(0.5)\nprint('done')\n")))

        assert call_id.startswith("fc-")
        assert (await remote.poll(call_id)).state == "pending"
        poll = await _settled(remote, call_id)
        assert poll.state == "done"
        assert poll.outcome is not None
        assert poll.outcome["stdout"] == "done\n"
        await remote.aclose()

    async def test_unknown_call_is_expired_and_cancelled_call_is_failed(self, make_run: MakeRun) -> None:
        remote = LocalModalRemote()
        assert (await remote.poll("fc-unknown")).state == "expired"
        call_id = await remote.spawn(script_request(make_run("import time\ntime.sleep(600)\n")))

        await remote.cancel(call_id)

        poll = await _settled(remote, call_id)
        assert poll.state == "failed"
        assert poll.error.startswith("Modal: container exited with")

    async def test_runner_maps_an_unknown_call_to_unknown(self) -> None:
        runner = ModalRunner(ModalSettings(), remote=LocalModalRemote())

        status = await runner.status(SandboxHandle(provider="modal", run_id="fc-gone", job_id="j"))

        assert status.state == "unknown"
        assert (await runner.health()).state == HealthState.HEALTHY


class TestModalFunctionBody:
    def test_body_runs_the_script_locally_and_returns_its_outcome(self, make_run: MakeRun) -> None:
        outcome = modal_app.run_script.local(script_request(make_run("print(6 * 7)\n")))

        assert outcome["exit_code"] == 0
        assert outcome["stdout"] == "42\n"
        assert outcome["cpu_s"] > 0

    def test_settings_defaults_name_the_deployed_function(self) -> None:
        settings = ModalSettings()

        assert (settings.app_name, settings.function_name) == (modal_app.APP_NAME, modal_app.FUNCTION_NAME)
        assert modal_app.app.name == modal_app.APP_NAME
