"""Job bookkeeping shared by the orchestration routes and the sandbox webhook."""

from __future__ import annotations

import hashlib
import hmac

from sentinel_connectors.jobs import announce

__all__ = ["announce", "job_secret"]


def job_secret(server_secret: str, job_id: str) -> str:
    """The secret a job's sandbox signs its callback with: derived from the server secret, never stored."""
    return hmac.new(server_secret.encode(), f"sentinel job-callback v1:{job_id}".encode(), hashlib.sha256).hexdigest()
