"""Sentinel's data flows and sync triggers.

Flows are Amazon States Language files (``infra/flows/*.asl.json``) run by Step Functions (``StepFunctionsRunner``)
or in-process (``LocalFlowRunner``); their Task states reach logical handlers in one ``HandlerRegistry``. Sync
triggers publish ``SyncRequested`` on EventBridge (``EventBridgePublisher`` → ``SyncQueueConsumer``) or call the
handler in-process (``InProcessSyncDispatcher``). ``FlowSettings`` is the settings section (``SENTINEL_FLOWS_*``).
"""

from sentinel_flows.aws import AwsClients
from sentinel_flows.definitions import TASK_RESOURCE, FlowCatalog, FlowDefinition, default_flows_dir
from sentinel_flows.local import LocalFlowRunner
from sentinel_flows.model import (
    ExecutionAlreadyExists,
    ExecutionDescription,
    ExecutionNotFound,
    ExecutionStatus,
    FlowDefinitionError,
    FlowError,
    FlowNotFound,
    StateRecord,
    TaskTokenInvalid,
)
from sentinel_flows.provision import ensure_sync_route
from sentinel_flows.runner import FlowRunner, create_flow_runner, create_sync_trigger
from sentinel_flows.settings import FlowSettings
from sentinel_flows.stepfunctions import StepFunctionsRunner
from sentinel_flows.sync import (
    CONNECTORS,
    DETAIL_TYPE,
    SOURCE,
    SYNC_EVENT_PATTERN,
    Connector,
    EventBridgePublisher,
    InProcessSyncDispatcher,
    SyncHandler,
    SyncPublishError,
    SyncQueueConsumer,
    SyncRequest,
    SyncTrigger,
)
from sentinel_flows.tasks import (
    AWAIT_CALLBACK,
    HandlerRegistry,
    TaskAnswerer,
    TaskContext,
    TaskError,
    TaskHandler,
    TaskRequest,
    run_task,
)
from sentinel_flows.worker import TaskQueueWorker

__all__ = [
    "AWAIT_CALLBACK",
    "CONNECTORS",
    "DETAIL_TYPE",
    "SOURCE",
    "SYNC_EVENT_PATTERN",
    "TASK_RESOURCE",
    "AwsClients",
    "Connector",
    "EventBridgePublisher",
    "ExecutionAlreadyExists",
    "ExecutionDescription",
    "ExecutionNotFound",
    "ExecutionStatus",
    "FlowCatalog",
    "FlowDefinition",
    "FlowDefinitionError",
    "FlowError",
    "FlowNotFound",
    "FlowRunner",
    "FlowSettings",
    "HandlerRegistry",
    "InProcessSyncDispatcher",
    "LocalFlowRunner",
    "StateRecord",
    "StepFunctionsRunner",
    "SyncHandler",
    "SyncPublishError",
    "SyncQueueConsumer",
    "SyncRequest",
    "SyncTrigger",
    "TaskAnswerer",
    "TaskContext",
    "TaskError",
    "TaskHandler",
    "TaskQueueWorker",
    "TaskRequest",
    "TaskTokenInvalid",
    "create_flow_runner",
    "create_sync_trigger",
    "default_flows_dir",
    "ensure_sync_route",
    "run_task",
]
