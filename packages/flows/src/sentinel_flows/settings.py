"""``FlowSettings``: the settings section of flows and sync triggers (``SENTINEL_FLOWS_*``).

Region, endpoint and credentials come from ``sentinel_config.AwsSettings`` (``SENTINEL_AWS_*``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from sentinel_config import InvalidSetting, require_url

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


class FlowSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Data flows (Step Functions or the local runner) and sync triggers (EventBridge or in-process)."""

    backend: Annotated[
        Literal["local", "aws"],
        Meta(description="local: flows and syncs run in-process; aws: Step Functions, EventBridge and SQS"),
    ] = "local"
    flows_dir: Annotated[
        str, Meta(description="Directory of the *.asl.json flow files; empty means infra/flows of the repository")
    ] = ""
    state_machine_prefix: Annotated[
        str, Meta(description="Prefix of the state machines' names (one per flow)", pattern=r"^[A-Za-z0-9_-]{0,40}$")
    ] = "sentinel-"
    deploy_state_machines: Annotated[
        bool,
        Meta(
            description="Create or update the state machines from the flow files (aws backend); false where "
            "infra/aws/jobs.yaml deploys them: they are then only looked up by name, never changed"
        ),
    ] = True
    state_machine_role_arn: Annotated[
        str, Meta(description="IAM role the state machines run as (aws backend): SQS SendMessage on the task queue")
    ] = ""
    task_queue_url: Annotated[
        str, Meta(description="SQS queue the flows' Task states send task requests to (aws backend)")
    ] = ""
    event_bus_name: Annotated[
        str, Meta(description="EventBridge bus of SyncRequested events", pattern=r"^[A-Za-z0-9._\-/:]{1,256}$")
    ] = "default"
    sync_queue_url: Annotated[
        str, Meta(description="SQS queue a rule on the bus delivers SyncRequested events to (aws backend)")
    ] = ""
    queue_wait_s: Annotated[int, Meta(description="Long-poll wait of SQS receives, seconds", ge=0, le=20)] = 20
    visibility_timeout_s: Annotated[
        int,
        Meta(
            description="Seconds a received message stays hidden; renewed while its handler runs, "
            "so it comes back only if the process dies",
            ge=1,
            le=43_200,
        ),
    ] = 300
    worker_concurrency: Annotated[
        int, Meta(description="Task requests (or sync events) one process handles at once", ge=1, le=100)
    ] = 10

    def __post_init__(self) -> None:
        if self.backend != "aws":
            return
        if self.deploy_state_machines and not _ROLE_ARN.match(self.state_machine_role_arn):
            raise InvalidSetting(
                "state_machine_role_arn",
                f"the aws backend deploying state machines needs an IAM role ARN (arn:aws:iam::<account>:role/<name>), "
                f"got {self.state_machine_role_arn!r}",
            )
        for field in ("task_queue_url", "sync_queue_url"):
            if not getattr(self, field):
                raise InvalidSetting(field, "the aws backend needs the SQS queue URL")
            require_url(field, getattr(self, field), ("http", "https"))
