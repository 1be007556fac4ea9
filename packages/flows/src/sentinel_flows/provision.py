"""Creates the AWS wiring of sync triggers for development and tests (production gets it from infra/)."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from sentinel_flows.aws import AwsClients, error_code
from sentinel_flows.settings import FlowSettings
from sentinel_flows.sync import SYNC_EVENT_PATTERN

SYNC_RULE_NAME = "sentinel-sync-requested"


async def ensure_sync_route(clients: AwsClients, settings: FlowSettings, *, rule_name: str = SYNC_RULE_NAME) -> str:
    """Route ``SyncRequested`` events of ``settings.event_bus_name`` to ``settings.sync_queue_url``.

    Creates the bus (unless it is ``default``), the rule with ``SYNC_EVENT_PATTERN``, a queue policy letting the
    rule send to the queue, and the rule's SQS target. Idempotent; returns the rule's ARN.
    """
    events = await clients.events()
    sqs = await clients.sqs()
    bus = settings.event_bus_name
    if bus != "default":
        try:
            await events.create_event_bus(Name=bus)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
    rule = await events.put_rule(
        Name=rule_name, EventBusName=bus, EventPattern=json.dumps(SYNC_EVENT_PATTERN), State="ENABLED"
    )
    attributes = await sqs.get_queue_attributes(QueueUrl=settings.sync_queue_url, AttributeNames=["QueueArn"])
    queue_arn = attributes["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "sentinel-sync-requested",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule["RuleArn"]}},
            }
        ],
    }
    await sqs.set_queue_attributes(QueueUrl=settings.sync_queue_url, Attributes={"Policy": json.dumps(policy)})
    await events.put_targets(Rule=rule_name, EventBusName=bus, Targets=[{"Id": "sync-queue", "Arn": queue_arn}])
    return rule["RuleArn"]
