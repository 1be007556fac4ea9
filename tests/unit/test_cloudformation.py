"""The CloudFormation templates of infra/aws/ against the code they deploy.

cfn-lint finds nothing in any template; each state machine embeds its flow file and fills the placeholders the runner
fills; the table, the bucket's bronze rule, the sync rule and the task definitions use the names, prefixes and
settings the code uses; every IAM statement names its actions and, except for the few actions that take no resource,
its resources.
"""

from __future__ import annotations

import functools
import json
import operator
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cfnlint.data import AdditionalSpecs
from cfnlint.decode import decode
from cfnlint.helpers import load_resource

from sentinel_analytics import StoredBatch
from sentinel_analytics.wire import StoredSdk
from sentinel_config import ArchiveSettings, AwsSettings, ControlSettings, document, load_settings
from sentinel_connectors.archive_replay import ARCHIVE_PREFIX
from sentinel_control import DynamoControlStore, Job, new_id
from sentinel_control._dynamo_jobs import _job_item
from sentinel_control.dynamodb import GSI1
from sentinel_dashboard.settings import Settings as DashboardSettings
from sentinel_flows import AwsClients, FlowCatalog, FlowSettings, StepFunctionsRunner
from sentinel_flows.provision import SYNC_RULE_NAME
from sentinel_flows.settings import _ROLE_ARN
from sentinel_flows.sync import SYNC_EVENT_PATTERN
from sentinel_ingest.settings import Settings as IngestSettings
from sentinel_local import DynamoDBEngine, MotoEngine
from sentinel_worker.archive import PREFIX as BRONZE_PREFIX
from sentinel_worker.archive import object_keys
from sentinel_worker.settings import Settings as WorkerSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
AWS = ROOT / "infra" / "aws"
FLOWS = ROOT / "infra" / "flows"
TEMPLATES = sorted(path.name for pattern in ("*.yaml", "*.yml", "*.json") for path in AWS.glob(pattern))
NO_VALUE = {"Ref": "AWS::NoValue"}

# Actions that take no resource ARN, so their statements must say Resource "*" (test_whitelist_is_right checks each
# one against cfn-lint's IAM data). Nothing else may be granted on "*".
RESOURCE_STAR_ACTIONS = {
    "ecr:GetAuthorizationToken",  # ECS logs in to the registry before pulling an image
    "events:ListEventBuses",  # the dashboard's EventBridge health probe
    "states:ListStateMachines",  # StepFunctionsRunner._find and the dashboard's Step Functions health probe
    "states:SendTaskFailure",  # task tokens are not tied to an ARN
    "states:SendTaskSuccess",
}

# Exactly what each role may do; the statements' comments in the templates name the calls.
ROLE_ACTIONS = {
    ("services.yaml", "IngestTaskRole"): {"dynamodb:DescribeTable", "dynamodb:Query"},
    ("services.yaml", "WorkerTaskRole"): {
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:ReceiveMessage",
        "states:SendTaskFailure",
        "states:SendTaskSuccess",
    },
    ("services.yaml", "DashboardTaskRole"): {
        "dynamodb:DeleteItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "events:ListEventBuses",
        "events:PutEvents",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "states:ListStateMachines",
        "states:SendTaskFailure",
        "states:SendTaskSuccess",
        "states:StartExecution",
    },
    ("services.yaml", "ExecutionRole"): {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetAuthorizationToken",
        "ecr:GetDownloadUrlForLayer",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "secretsmanager:GetSecretValue",
    },
    ("jobs.yaml", "StateMachineRole"): {"sqs:SendMessage"},
}

SERVICES: dict[str, tuple[str, type[msgspec.Struct]]] = {
    "ingest": ("IngestTaskDefinition", IngestSettings),
    "worker": ("WorkerTaskDefinition", WorkerSettings),
    "dashboard": ("DashboardTaskDefinition", DashboardSettings),
}


# --- reading templates ---------------------------------------------------------------------------------------------
@functools.cache
def template(name: str) -> dict[str, Any]:
    loaded, problems = decode(str(AWS / name))
    assert not problems, [str(problem) for problem in problems]
    assert isinstance(loaded, dict)
    return loaded


def resources_of(tpl: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in tpl["Resources"].items() if res["Type"] == kind}


def properties(name: str, resource: str) -> dict[str, Any]:
    props: dict[str, Any] = template(name)["Resources"][resource]["Properties"]
    return props


def parameter(name: str, param: str) -> dict[str, Any]:
    spec: dict[str, Any] = template(name)["Parameters"][param]
    return spec


def branches(items: Any) -> Iterator[Any]:
    """A list's entries whichever way its conditions go: both sides of each Fn::If, without AWS::NoValue."""
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, dict) and set(item) == {"Fn::If"}:
            yield from branches(list(item["Fn::If"][1:]))
        elif item != NO_VALUE:
            yield item


def statements(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy statement in a template (role, bucket, queue and trust policies), with where it is."""
    if isinstance(node, dict):
        if "Version" in node and isinstance(node.get("Statement"), list):
            for statement in branches(node["Statement"]):
                yield where, statement
        for key, value in node.items():
            yield from statements(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from statements(value, f"{where}/{index}")


def as_list(value: Any) -> list[Any]:
    return list(branches(value))


def field_pattern(cls: type[msgspec.Struct], field: str) -> str:
    """The regex a settings field is validated with."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    kind = next(f.type for f in info.fields if f.name == field)
    while isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    assert isinstance(kind, msgspec.inspect.StrType)
    assert kind.pattern is not None
    return kind.pattern


# --- resolving a template with parameter values, as CloudFormation would ------------------------------------------
ACCOUNT, REGION = "123456789012", "eu-west-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "sentinel",
}
_DROPPED = object()


def secret_arn(name: str) -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:sentinel/{name}-AbCdEf"


REQUIRED = {
    "IngestImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sentinel-ingest:1",
    "WorkerImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sentinel-worker:1",
    "DashboardImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sentinel-dashboard:1",
    "EcrRepositoryArns": ",".join(
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/sentinel-{name}" for name in ("ingest", "worker", "dashboard")
    ),
    "ArchiveBucketName": "sentinel-archive-test",
    "StateMachineRoleArn": f"arn:aws:iam::{ACCOUNT}:role/sentinel-flows",
    "PublicUrl": "https://sentinel.example.com",
    "HashSecretArn": secret_arn("hash"),
    "RedisUrl": "rediss://redis.internal:6379/0",
    "ClickHouseUrl": "https://clickhouse.internal:8443",
}
EVERY_OPTION = REQUIRED | {
    "AnalyticsBackend": "tinybird",
    "RedisUrl": "",
    "RedisUrlSecretArn": secret_arn("redis"),
    "ClickHousePasswordSecretArn": secret_arn("clickhouse"),
    "TinybirdTokenSecretArn": secret_arn("tinybird"),
    "E2BApiKeySecretArn": secret_arn("e2b"),
    "ModalTokenIdSecretArn": secret_arn("modal-id"),
    "ModalTokenSecretSecretArn": secret_arn("modal-secret"),
    "FlowsDir": "/srv/sentinel/flows",
    "AccessLogSourceBucket": "alb-logs-test",
}
SCENARIOS = {"defaults": REQUIRED, "every-option": EVERY_OPTION}
SECRET_VALUES = {"SENTINEL_CONTROL_HASH_SECRET": "h" * 48, "SENTINEL_REDIS_URL": "rediss://:pw@redis.internal:6379/0"}


class Resolved:
    """A template's intrinsic functions evaluated for given parameter values (those it uses)."""

    def __init__(self, tpl: Mapping[str, Any], values: Mapping[str, str]) -> None:
        self.tpl = tpl
        self.params: dict[str, Any] = {}
        for name, spec in tpl.get("Parameters", {}).items():
            value = values.get(name, spec.get("Default"))
            assert value is not None, f"parameter {name} has no default and no test value"
            value = str(value)
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), f"{name}={value!r} breaks its AllowedPattern"
            if "AllowedValues" in spec:
                assert value in [str(allowed) for allowed in spec["AllowedValues"]], f"{name}={value!r}"
            self.params[name] = value.split(",") if spec["Type"] == "CommaDelimitedList" else value

    def condition(self, name: str) -> bool:
        return self._truth(self.tpl["Conditions"][name])

    def _truth(self, node: Mapping[str, Any]) -> bool:
        ((function, args),) = node.items()
        if function == "Fn::Equals":
            return bool(self.value(args[0]) == self.value(args[1]))
        if function == "Fn::Not":
            return not self._truth(args[0])
        if function == "Fn::And":
            return all(self._truth(arg) for arg in args)
        if function == "Fn::Or":
            return any(self._truth(arg) for arg in args)
        if function == "Condition":
            return self.condition(args)
        raise AssertionError(f"unexpected condition function {function}")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _DROPPED
        if name in PSEUDO:
            return PSEUDO[name]
        return self.params.get(name, f"<{name}>")  # a resource: its physical id is not known here

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.value(item) for item in node) if item is not _DROPPED]
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref":
                    return self._ref(arg)
                if key == "Fn::If":
                    return self.value(arg[1] if self.condition(arg[0]) else arg[2])
                if key == "Fn::Sub":
                    assert isinstance(arg, str), "only the one-argument Fn::Sub is resolved here"
                    return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._ref(m.group(1))), arg)
                if key == "Fn::GetAtt":
                    return f"<{'.'.join(arg)}>"
            pairs = ((key, self.value(item)) for key, item in node.items())
            return {key: item for key, item in pairs if item is not _DROPPED}
        return node


# --- cfn-lint --------------------------------------------------------------------------------------------------------
def test_every_template_is_here() -> None:
    assert TEMPLATES == ["archive-bucket.yaml", "control-table.yaml", "jobs.yaml", "services.yaml"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_cfn_lint_reports_nothing(name: str) -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--", str(AWS / name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


# --- state machines --------------------------------------------------------------------------------------------------
def state_machines() -> dict[str, dict[str, Any]]:
    """Flow name → the state machine's properties (its name is ``${StateMachinePrefix}<flow>``)."""
    machines = {}
    for res in resources_of(template("jobs.yaml"), "AWS::StepFunctions::StateMachine").values():
        name = res["Properties"]["StateMachineName"]
        assert set(name) == {"Fn::Sub"}, name
        assert name["Fn::Sub"].startswith("${StateMachinePrefix}"), name
        machines[name["Fn::Sub"].removeprefix("${StateMachinePrefix}")] = res["Properties"]
    return machines


class TestStateMachines:
    def test_one_state_machine_per_flow_file(self) -> None:
        assert sorted(state_machines()) == FlowCatalog(FLOWS).names() != []

    def test_prefix_is_the_runners(self) -> None:
        spec = parameter("jobs.yaml", "StateMachinePrefix")
        assert spec["Default"] == FlowSettings().state_machine_prefix
        assert spec["AllowedPattern"] == field_pattern(FlowSettings, "state_machine_prefix")

    @pytest.mark.parametrize("flow", FlowCatalog(FLOWS).names())
    def test_embedded_definition_is_the_flow_file(self, flow: str) -> None:
        props = state_machines()[flow]
        assert "Definition" not in props
        embedded = json.loads(props["DefinitionString"])
        assert embedded == json.loads((FLOWS / f"{flow}.asl.json").read_text(encoding="utf-8"))

    @pytest.mark.parametrize("flow", FlowCatalog(FLOWS).names())
    def test_substitutions_fill_exactly_the_placeholders(self, flow: str) -> None:
        text = (FLOWS / f"{flow}.asl.json").read_text(encoding="utf-8")
        placeholders = set(re.findall(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}", text))
        assert set(state_machines()[flow]["DefinitionSubstitutions"]) == placeholders

    def test_task_queue_url_is_the_task_queue_the_role_may_send_to(self) -> None:
        props = state_machines()["analysis"]
        assert props["DefinitionSubstitutions"] == {"TaskQueueUrl": {"Ref": "TaskQueue"}}
        assert template("jobs.yaml")["Resources"]["TaskQueue"]["Type"] == "AWS::SQS::Queue"
        assert props["RoleArn"] == {"Fn::GetAtt": ["StateMachineRole", "Arn"]}
        granted = [s for _, s in statements(template("jobs.yaml")["Resources"]["StateMachineRole"]["Properties"])]
        assert {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["TaskQueue", "Arn"]}} in (
            granted
        )

    @pytest.mark.parametrize("flow", FlowCatalog(FLOWS).names())
    def test_dashboard_may_run_and_watch_every_flow(self, flow: str) -> None:
        arns = {
            resource["Fn::Sub"]: set(as_list(statement["Action"]))
            for _, statement in statements(properties("services.yaml", "DashboardTaskRole"))
            for resource in as_list(statement.get("Resource", []))
            if isinstance(resource, dict) and "Fn::Sub" in resource
        }
        states = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
        assert arns[f"{states}:stateMachine:${{StateMachinePrefix}}{flow}"] == {"states:StartExecution"}
        assert arns[f"{states}:execution:${{StateMachinePrefix}}{flow}:*"] == {
            "states:DescribeExecution",
            "states:GetExecutionHistory",
        }

    @pytest.mark.parametrize("flow", FlowCatalog(FLOWS).names())
    async def test_deployed_definition_is_what_the_runner_deploys(self, flow: str, moto_server: MotoEngine) -> None:
        """The runner deploys the flow to Step Functions (moto) under the template's name, with the template's
        definition once CloudFormation has made its substitutions."""
        queue_url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/sentinel-flow-tasks"
        settings = FlowSettings(
            backend="aws",
            flows_dir=str(FLOWS),
            state_machine_prefix=parameter("jobs.yaml", "StateMachinePrefix")["Default"],
            state_machine_role_arn=f"arn:aws:iam::{ACCOUNT}:role/sentinel-flows",
            task_queue_url=queue_url,
            sync_queue_url=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/sentinel-sync-requests",
        )
        clients = AwsClients(AwsSettings(endpoint_url=moto_server.url, access_key_id="test", secret_access_key="test"))
        try:
            arn = await StepFunctionsRunner(clients, settings).ensure(flow)
            deployed = await (await clients.stepfunctions()).describe_state_machine(stateMachineArn=arn)
        finally:
            await clients.aclose()
        props = state_machines()[flow]
        assert deployed["name"] == Resolved(template("jobs.yaml"), {}).value(props["StateMachineName"])
        # CloudFormation replaces each ${Name} of the string with its DefinitionSubstitutions value.
        values = {"TaskQueueUrl": queue_url}
        expected = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: values[m.group(1)], props["DefinitionString"])
        assert json.loads(expected) == json.loads(deployed["definition"])


# --- control table ---------------------------------------------------------------------------------------------------
class TestControlTable:
    @pytest.fixture
    async def created(self, dynamodb_server: DynamoDBEngine) -> AsyncIterator[dict[str, Any]]:
        """The table ``DynamoControlStore.setup`` creates in DynamoDB Local, as DescribeTable and DescribeTimeToLive
        report it."""
        store = DynamoControlStore(
            f"sentinel-cfn-{uuid.uuid4().hex[:8]}",
            endpoint_url=dynamodb_server.url,
            access_key_id="test",
            secret_access_key="test",
        )
        await store.setup()
        try:
            client = await store._ddb()
            table = (await client.describe_table(TableName=store.table))["Table"]
            ttl = (await client.describe_time_to_live(TableName=store.table))["TimeToLiveDescription"]
            yield {"table": table, "ttl": ttl}
        finally:
            await store.close()

    def test_table_name_matches_the_setting(self) -> None:
        for name in ("control-table.yaml", "services.yaml"):
            spec = parameter(name, "TableName")
            assert spec["Default"] == ControlSettings().dynamodb_table
            assert spec["AllowedPattern"] == field_pattern(ControlSettings, "dynamodb_table")

    async def test_keys_and_index_are_what_the_store_creates(self, created: dict[str, Any]) -> None:
        props = properties("control-table.yaml", "ControlTable")
        table = created["table"]
        assert props["BillingMode"] == table["BillingModeSummary"]["BillingMode"]
        assert props["KeySchema"] == table["KeySchema"]
        by_name = operator.itemgetter("AttributeName")
        assert sorted(props["AttributeDefinitions"], key=by_name) == sorted(table["AttributeDefinitions"], key=by_name)
        indexes = [
            {"IndexName": index["IndexName"], "KeySchema": index["KeySchema"], "Projection": index["Projection"]}
            for index in table["GlobalSecondaryIndexes"]
        ]
        assert props["GlobalSecondaryIndexes"] == indexes
        assert [index["IndexName"] for index in props["GlobalSecondaryIndexes"]] == [GSI1]

    async def test_ttl_attribute_is_the_one_the_store_switches_on(self, created: dict[str, Any]) -> None:
        ttl = properties("control-table.yaml", "ControlTable")["TimeToLiveSpecification"]
        assert ttl["Enabled"] is True
        assert created["ttl"]["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
        assert ttl["AttributeName"] == created["ttl"]["AttributeName"]

    def test_finished_jobs_carry_the_ttl_attribute(self) -> None:
        job = Job(
            id=new_id("job"),
            tenant_id=new_id("ten"),
            project_id=new_id("prj"),
            kind="flow",
            name="analysis",
            status="succeeded",
            created_at=1_700_000_000_000,
            updated_at=1_700_000_060_000,
            finished_at=1_700_000_060_000,
        )
        ttl = properties("control-table.yaml", "ControlTable")["TimeToLiveSpecification"]["AttributeName"]
        assert set(_job_item(job)[ttl]) == {"N"}

    def test_roles_reach_only_the_table_and_its_index(self) -> None:
        table = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}"
        found = set()
        for where, statement in statements(template("services.yaml")):
            if any(str(action).startswith("dynamodb:") for action in as_list(statement["Action"])):
                for resource in as_list(statement["Resource"]):
                    found.add(resource["Fn::Sub"])
                    assert resource["Fn::Sub"] in (table, f"{table}/index/{GSI1}"), where
        assert found == {table, f"{table}/index/{GSI1}"}


# --- archive bucket --------------------------------------------------------------------------------------------------
def _bronze_key() -> str:
    batch = StoredBatch(
        project_id=new_id("prj"),
        tenant_id=new_id("ten"),
        batch_id=uuid.uuid4(),
        received_at=1_700_000_000_000,
        sdk=StoredSdk(name="sentinel-sdk", version="1"),
    )
    (key,) = object_keys("token", [(0, batch, b"{}")])
    return key


class TestArchiveBucket:
    def test_bucket_name_pattern_is_the_settings(self) -> None:
        for name, param in (("archive-bucket.yaml", "BucketName"), ("services.yaml", "ArchiveBucketName")):
            assert parameter(name, param)["AllowedPattern"] == field_pattern(ArchiveSettings, "bucket")

    def test_bronze_rule_prefix_is_where_the_worker_writes(self) -> None:
        rules = properties("archive-bucket.yaml", "ArchiveBucket")["LifecycleConfiguration"]["Rules"]
        (bronze,) = [rule for rule in rules if "Transitions" in rule]
        assert ARCHIVE_PREFIX == BRONZE_PREFIX
        assert bronze["Prefix"] == f"{BRONZE_PREFIX}/"
        assert _bronze_key().startswith(bronze["Prefix"])
        assert bronze["Status"] == "Enabled"
        assert bronze["ExpirationInDays"] == {"Ref": "BronzeExpirationDays"}
        assert bronze["Transitions"] == [
            {
                "StorageClass": {"Ref": "BronzeTransitionStorageClass"},
                "TransitionInDays": {"Ref": "BronzeTransitionDays"},
            }
        ]
        transition, expiry = (
            parameter("archive-bucket.yaml", p) for p in ("BronzeTransitionDays", "BronzeExpirationDays")
        )
        assert int(expiry["Default"]) > int(transition["Default"]) >= int(transition["MinValue"]) >= 30
        # Archive replays read bronze objects directly: no class that needs a restore first.
        assert {"GLACIER", "DEEP_ARCHIVE"}.isdisjoint(
            parameter("archive-bucket.yaml", "BronzeTransitionStorageClass")["AllowedValues"]
        )

    def test_incomplete_uploads_are_aborted_bucket_wide(self) -> None:
        rules = properties("archive-bucket.yaml", "ArchiveBucket")["LifecycleConfiguration"]["Rules"]
        (cleanup,) = [rule for rule in rules if "AbortIncompleteMultipartUpload" in rule]
        assert not {"Prefix", "TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan"} & set(cleanup)
        assert cleanup["AbortIncompleteMultipartUpload"] == {
            "DaysAfterInitiation": {"Ref": "AbortIncompleteMultipartUploadDays"}
        }

    def test_bucket_is_private_and_encrypted(self) -> None:
        props = properties("archive-bucket.yaml", "ArchiveBucket")
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(props["PublicAccessBlockConfiguration"]) == 4
        (default,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert default["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert props["VersioningConfiguration"] == {"Status": {"Ref": "Versioning"}}
        assert template("archive-bucket.yaml")["Resources"]["ArchiveBucket"]["DeletionPolicy"] == "Retain"

    def test_bucket_policy_refuses_plain_http(self) -> None:
        policy = properties("archive-bucket.yaml", "ArchiveBucketPolicy")
        assert policy["Bucket"] == {"Ref": "ArchiveBucket"}
        (deny,) = policy["PolicyDocument"]["Statement"]
        assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [{"Fn::GetAtt": ["ArchiveBucket", "Arn"]}, {"Fn::Sub": "${ArchiveBucket.Arn}/*"}]

    def test_object_permissions_stay_under_the_codes_prefixes(self) -> None:
        bucket = "arn:${AWS::Partition}:s3:::${ArchiveBucketName}"
        for where, statement in statements(template("services.yaml")):
            for resource in as_list(statement.get("Resource", [])):
                text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
                if text.startswith(f"{bucket}/"):
                    key = text.removeprefix(f"{bucket}/")
                    assert key.startswith((f"{BRONZE_PREFIX}/", "tenants/*/projects/*/")), where


# --- sync events -----------------------------------------------------------------------------------------------------
class TestSyncRoute:
    def test_rule_is_the_codes(self) -> None:
        rule = properties("jobs.yaml", "SyncRule")
        assert rule["Name"] == SYNC_RULE_NAME
        assert rule["EventPattern"] == SYNC_EVENT_PATTERN
        assert rule["State"] == "ENABLED"
        assert rule["Targets"] == [{"Id": "sync-queue", "Arn": {"Fn::GetAtt": ["SyncQueue", "Arn"]}}]

    def test_bus_is_the_settings(self) -> None:
        for name in ("jobs.yaml", "services.yaml"):
            spec = parameter(name, "EventBusName")
            assert spec["Default"] == FlowSettings().event_bus_name
            assert spec["AllowedPattern"] == field_pattern(FlowSettings, "event_bus_name")

    def test_only_the_rule_may_send_to_the_sync_queue(self) -> None:
        policy = properties("jobs.yaml", "SyncQueuePolicy")
        assert policy["Queues"] == [{"Ref": "SyncQueue"}]
        (allow,) = policy["PolicyDocument"]["Statement"]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow["Action"] == "sqs:SendMessage"
        assert allow["Resource"] == {"Fn::GetAtt": ["SyncQueue", "Arn"]}
        assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SyncRule", "Arn"]}}}

    def test_services_get_the_names_the_jobs_template_uses(self) -> None:
        for param in ("EventBusName", "TaskQueueName", "SyncQueueName", "StateMachinePrefix"):
            jobs, services = parameter("jobs.yaml", param), parameter("services.yaml", param)
            assert (jobs["Default"], jobs["AllowedPattern"]) == (services["Default"], services["AllowedPattern"])
        assert parameter("services.yaml", "StateMachineRoleArn")["AllowedPattern"] == _ROLE_ARN.pattern


# --- IAM -------------------------------------------------------------------------------------------------------------
ALL_STATEMENTS = [(name, where, s) for name in TEMPLATES for where, s in statements(template(name))]
IAM_DATA: dict[str, Any] = load_resource(AdditionalSpecs, "Policies.json")


class TestIam:
    def test_there_are_statements_to_check(self) -> None:
        assert len(ALL_STATEMENTS) > 20

    @pytest.mark.parametrize("action", sorted(RESOURCE_STAR_ACTIONS))
    def test_whitelist_is_right(self, action: str) -> None:
        service, name = action.split(":")
        assert not IAM_DATA[service]["Actions"][name.lower()].get("Resources"), f"{action} takes a resource ARN"

    def test_allowed_actions_are_named_in_full_and_exist(self) -> None:
        for name, where, statement in ALL_STATEMENTS:
            assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement), (name, where)
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                assert "*" not in action, (name, where, action)
                service, operation = action.split(":")
                assert operation.lower() in IAM_DATA[service]["Actions"], (name, where, action)

    def test_only_the_tls_deny_names_a_whole_service(self) -> None:
        for name, where, statement in ALL_STATEMENTS:
            if statement["Effect"] == "Deny":
                # A deny narrows access; covering every S3 action is how plain HTTP is refused.
                assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, (name, where)
                assert as_list(statement["Action"]) == ["s3:*"], (name, where)
            else:
                assert statement["Effect"] == "Allow", (name, where)

    def test_resource_star_only_for_actions_that_take_no_resource(self) -> None:
        starred = set()
        for name, where, statement in ALL_STATEMENTS:
            if statement["Effect"] != "Allow" or "Resource" not in statement:
                continue
            resources = as_list(statement["Resource"])
            assert resources, (name, where)
            if "*" in resources:
                assert resources == ["*"], (name, where)
                actions = set(as_list(statement["Action"]))
                assert actions <= RESOURCE_STAR_ACTIONS, (name, where, actions - RESOURCE_STAR_ACTIONS)
                starred |= actions
        assert starred == RESOURCE_STAR_ACTIONS  # the whitelist holds nothing the templates do not need

    def test_nothing_is_allowed_to_everyone(self) -> None:
        for name, where, statement in ALL_STATEMENTS:
            if statement["Effect"] == "Allow":
                assert statement.get("Principal") not in ("*", {"AWS": "*"}), (name, where)

    def test_roles_carry_only_their_inline_policies(self) -> None:
        for name in TEMPLATES:
            assert not resources_of(template(name), "AWS::IAM::ManagedPolicy")
            for role, res in resources_of(template(name), "AWS::IAM::Role").items():
                assert "ManagedPolicyArns" not in res["Properties"], (name, role)

    @pytest.mark.parametrize(("name", "role"), sorted(ROLE_ACTIONS))
    def test_each_role_grants_exactly_what_its_code_calls(self, name: str, role: str) -> None:
        policies = properties(name, role)["Policies"]
        granted = {
            action
            for _, statement in statements(policies)
            if statement["Effect"] == "Allow"
            for action in as_list(statement["Action"])
        }
        assert granted == ROLE_ACTIONS[(name, role)]

    def test_every_role_is_checked(self) -> None:
        roles = {(name, role) for name in TEMPLATES for role in resources_of(template(name), "AWS::IAM::Role")}
        assert roles == set(ROLE_ACTIONS)

    def test_no_service_may_pass_a_role(self) -> None:
        """The state machines are deployed by jobs.yaml: no service creates or updates one, so none passes a role."""
        assert ALL_STATEMENTS
        passing = [
            (name, where) for name, where, statement in ALL_STATEMENTS if "iam:PassRole" in as_list(statement["Action"])
        ]
        assert passing == []


# --- task definitions ------------------------------------------------------------------------------------------------
ENV_EXAMPLE = {
    match.group(1)
    for match in re.finditer(r"^(SENTINEL_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
}
SECRET_VARIABLES = {doc.variable for _, cls in SERVICES.values() for doc in document(cls) if doc.secret}


def container(service: str) -> dict[str, Any]:
    resource, _ = SERVICES[service]
    definitions: list[dict[str, Any]] = properties("services.yaml", resource)["ContainerDefinitions"]
    (definition,) = definitions
    assert definition["Name"] == service
    return definition


def names(entries: Any) -> set[str]:
    return {entry["Name"] for entry in as_list(entries)}


class TestTaskDefinitions:
    def test_secret_marks_agree_with_env_example(self) -> None:
        text = (ROOT / ".env.example").read_text()
        marked = set(re.findall(r"^# .*\(secret\)\n(SENTINEL_[A-Z0-9_]+)=", text, re.MULTILINE))
        assert marked == SECRET_VARIABLES != set()

    @pytest.mark.parametrize("service", sorted(SERVICES))
    def test_every_variable_is_one_the_service_reads(self, service: str) -> None:
        definition, (_, settings) = container(service), SERVICES[service]
        variables = names(definition["Environment"]) | names(definition["Secrets"])
        assert variables <= ENV_EXAMPLE
        assert variables <= {doc.variable for doc in document(settings)}

    @pytest.mark.parametrize("service", sorted(SERVICES))
    def test_no_secret_is_a_plain_value(self, service: str) -> None:
        definition = container(service)
        assert not names(definition["Environment"]) & SECRET_VARIABLES
        for entry in as_list(definition["Environment"]):
            assert not (isinstance(entry["Value"], dict) and "Secret" in str(entry["Value"].get("Ref", ""))), entry
        for entry in as_list(definition["Secrets"]):
            ref = entry["ValueFrom"]["Ref"]  # never a literal: a parameter holding the secret's ARN
            assert ref.endswith("SecretArn")
            assert "secretsmanager" in parameter("services.yaml", ref)["AllowedPattern"]
        assert "SENTINEL_CONTROL_HASH_SECRET" in names(definition["Secrets"])

    @pytest.mark.parametrize("service", sorted(SERVICES))
    def test_http_port_is_the_settings(self, service: str) -> None:
        definition, (_, settings) = container(service), SERVICES[service]
        env = {entry["Name"]: entry["Value"] for entry in as_list(definition["Environment"])}
        (mapping,) = definition["PortMappings"]
        default_port = getattr(settings(), service).port
        assert mapping == {"ContainerPort": default_port, "Protocol": "tcp"}
        assert env[f"SENTINEL_{service.upper()}_PORT"] == str(default_port)
        assert env[f"SENTINEL_{service.upper()}_HOST"] == "0.0.0.0"

    @pytest.mark.parametrize("service", sorted(SERVICES))
    def test_logs_go_to_a_log_group_with_retention(self, service: str) -> None:
        resource, _ = SERVICES[service]
        props = properties("services.yaml", resource)
        logs = container(service)["LogConfiguration"]
        assert logs["LogDriver"] == "awslogs"
        group = logs["Options"]["awslogs-group"]["Ref"]
        assert properties("services.yaml", group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        writes = [
            s for _, s in statements(properties("services.yaml", "ExecutionRole")) if "logs:PutLogEvents" in s["Action"]
        ]
        assert [{"Fn::GetAtt": [group, "Arn"]} in s["Resource"] for s in writes] == [True]
        assert (props["RequiresCompatibilities"], props["NetworkMode"]) == (["FARGATE"], "awsvpc")
        title = service.capitalize()
        assert (props["Cpu"], props["Memory"]) == ({"Ref": f"{title}Cpu"}, {"Ref": f"{title}Memory"})
        assert container(service)["Image"] == {"Ref": f"{title}Image"}
        assert props["TaskRoleArn"] == {"Fn::GetAtt": [f"{title}TaskRole", "Arn"]}
        assert props["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}

    @pytest.mark.parametrize("scenario", sorted(SCENARIOS))
    @pytest.mark.parametrize("service", sorted(SERVICES))
    def test_service_starts_on_the_environment_given(self, service: str, scenario: str) -> None:
        """The variables a task gets, resolved for the parameters, load into the service's settings."""
        resolved = Resolved(template("services.yaml"), SCENARIOS[scenario])
        definition = resolved.value(container(service))
        env = {entry["Name"]: str(entry["Value"]) for entry in definition["Environment"]}
        secrets = {entry["Name"]: SECRET_VALUES.get(entry["Name"], "secret-value") for entry in definition["Secrets"]}
        assert not env.keys() & secrets.keys()
        settings: Any = load_settings(SERVICES[service][1], env | secrets)
        assert settings.control.backend == "dynamodb"
        assert settings.aws.region == REGION
        if service != "ingest":
            assert settings.archive.backend == "s3"
            assert settings.archive.bucket == REQUIRED["ArchiveBucketName"]
            assert settings.flows.backend == "aws"
            assert settings.flows.task_queue_url.endswith(f"/{ACCOUNT}/sentinel-flow-tasks")
        if scenario == "every-option":
            # Every secret the service reads is offered (AWS keys excepted: the task role replaces them).
            read = {doc.variable for doc in document(SERVICES[service][1]) if doc.secret}
            assert read - {"SENTINEL_AWS_SECRET_ACCESS_KEY"} <= secrets.keys()

    @pytest.mark.parametrize("scenario", sorted(SCENARIOS))
    def test_execution_role_reads_every_secret_the_tasks_name(self, scenario: str) -> None:
        resolved = Resolved(template("services.yaml"), SCENARIOS[scenario])
        wanted = {entry["ValueFrom"] for service in SERVICES for entry in resolved.value(container(service))["Secrets"]}
        (read,) = [
            s
            for _, s in statements(resolved.value(properties("services.yaml", "ExecutionRole")))
            if s["Action"] == "secretsmanager:GetSecretValue"
        ]
        assert set(read["Resource"]) == wanted
