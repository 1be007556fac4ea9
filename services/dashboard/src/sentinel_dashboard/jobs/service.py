"""Job bookkeeping shared by the orchestration routes and the sandbox webhook.

``job_secret`` lives in ``sentinel_sandbox`` because the process that starts a script (the dashboard embedded, the
worker on AWS) and the webhook that checks its callback must derive the same secret.
"""

from __future__ import annotations

from sentinel_connectors.jobs import announce
from sentinel_sandbox import job_secret

__all__ = ["announce", "job_secret"]
