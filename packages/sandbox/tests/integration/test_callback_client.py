"""The stdlib callback client scripts use, against a real local webhook receiver."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sentinel_sandbox.callback import CallbackError, post_result
from sentinel_sandbox.testing import CallbackRecorder


def _environ(recorder: CallbackRecorder) -> dict[str, str]:
    job_id, secret = f"job-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    recorder.expect(job_id, secret)
    return {"SENTINEL_CALLBACK_URL": recorder.callback_url, "SENTINEL_JOB_ID": job_id, "SENTINEL_JOB_SECRET": secret}


class TestPostResult:
    async def test_posts_a_signed_body_the_webhook_accepts(self, callbacks: CallbackRecorder) -> None:
        env = _environ(callbacks)
        before = len(callbacks.callbacks)

        status = await asyncio.to_thread(post_result, "failed", None, "no data", environ=env)

        assert status == 202
        received = callbacks.callbacks[before]
        assert received.check.ok
        assert received.json() == {
            "job_id": env["SENTINEL_JOB_ID"], "status": "failed", "result": None, "logs": "no data", "usage": {},
        }  # fmt: skip

    async def test_retries_unavailable_answers_then_succeeds(self, callbacks: CallbackRecorder) -> None:
        env = _environ(callbacks)
        before = len(callbacks.callbacks)
        callbacks.answer_next(503, 429)

        status = await asyncio.to_thread(post_result, "succeeded", {"n": 1}, environ=env)

        assert status == 202
        attempts = callbacks.callbacks[before:]
        assert len(attempts) == 3
        assert len({attempt.body for attempt in attempts}) == 1  # the same body, signed anew each time
        assert all(attempt.check.ok for attempt in attempts)

    async def test_refused_signature_is_not_retried(self, callbacks: CallbackRecorder) -> None:
        env = {**_environ(callbacks), "SENTINEL_JOB_SECRET": "not-the-job-secret"}
        before = len(callbacks.callbacks)

        with pytest.raises(CallbackError, match="callback refused: HTTP 401"):
            await asyncio.to_thread(post_result, "succeeded", environ=env)

        assert len(callbacks.callbacks) == before + 1
        assert callbacks.callbacks[before].check.failure == "bad_signature"

    async def test_unreachable_webhook_fails_after_its_attempts(self, callbacks: CallbackRecorder) -> None:
        env = {**_environ(callbacks), "SENTINEL_CALLBACK_URL": "http://127.0.0.1:9/callback"}

        with pytest.raises(CallbackError, match="callback failed after 2 attempts, last: URLError"):
            await asyncio.to_thread(post_result, "succeeded", environ=env, attempts=2)
