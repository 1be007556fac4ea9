"""The control store on a DynamoDB single table (see the package README for the key design).

Every record is one item whose ``data`` attribute holds the record as JSON; the key attributes (``PK``, ``SK``,
``GSI1PK``, ``GSI1SK``), a ``version`` on projects and ``ttl`` on expiring items sit beside it. Uniqueness and
"exactly one wins" come from conditional writes and transactions, never from a read followed by a write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import aioboto3
import msgspec
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from sentinel_control._dynamo_items import attr_data as _data
from sentinel_control._dynamo_items import attr_n as _n
from sentinel_control._dynamo_items import attr_s as _s
from sentinel_control._dynamo_items import cancelled_because as _cancelled_because
from sentinel_control._dynamo_items import delete_call as _delete
from sentinel_control._dynamo_items import error_code as _code
from sentinel_control._dynamo_items import key_sk, project_name_sk, project_sk, tenant_pk, token_sk
from sentinel_control._dynamo_items import load_record as _load
from sentinel_control._dynamo_items import query_call as _query
from sentinel_control._dynamo_jobs import DynamoJobs
from sentinel_control.errors import ConflictError, LimitExceededError, StoreUnavailableError
from sentinel_control.models import (
    DashboardToken,
    IngestKey,
    KeyResolution,
    Project,
    ProjectChanges,
    Tenant,
    now_ms,
)

T = TypeVar("T")
R = TypeVar("R", bound=msgspec.Struct)

GSI1 = "GSI1"
TOKEN_TTL_GRACE_S = 7 * 24 * 3600  # expired tokens stay listable for a week, then DynamoDB deletes them
_VERSION_RETRIES = 5


def table_definition(table_name: str) -> dict[str, Any]:
    """``CreateTable`` arguments of the single table (on-demand billing; TTL is switched on separately)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in ("PK", "SK", "GSI1PK", "GSI1SK")
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": GSI1,
                "KeySchema": [
                    {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


class DynamoControlStore(DynamoJobs):
    """``ControlStore`` on one DynamoDB table (``SENTINEL_CONTROL_DYNAMODB_TABLE``)."""

    def __init__(
        self,
        table: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.table = table
        self._session = aioboto3.Session(
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            region_name=region,
        )
        self._endpoint_url = endpoint_url or None
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None

    async def _ddb(self) -> Any:
        if self._client is None:
            config = AioConfig(connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
            self._client = await self._stack.enter_async_context(
                self._session.client("dynamodb", endpoint_url=self._endpoint_url, config=config)
            )
        return self._client

    async def _call(self, work: Callable[[Any], Awaitable[T]]) -> T:
        try:
            return await work(await self._ddb())
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"dynamodb: {exc}") from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or _code(exc) in {"ProvisionedThroughputExceededException", "ThrottlingException"}:
                raise StoreUnavailableError(f"dynamodb: {exc}") from exc
            raise

    # --- lifecycle ----------------------------------------------------------------------------------------
    async def setup(self) -> None:
        """Wait for the table; create it with its GSI and TTL first if it does not exist (local use).

        A deployed table (``infra/aws/control-table.yaml``) is only described, so the services need no right to
        create or alter it.
        """
        ddb = await self._ddb()
        try:
            await ddb.describe_table(TableName=self.table)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            await self._create_table(ddb)
        waiter = ddb.get_waiter("table_exists")
        await waiter.wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    async def _create_table(self, ddb: Any) -> None:
        try:
            await ddb.create_table(**table_definition(self.table))
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":  # another process created it meanwhile
                raise
            return
        waiter = ddb.get_waiter("table_exists")
        await waiter.wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        with contextlib.suppress(ClientError):
            await ddb.update_time_to_live(
                TableName=self.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
            )

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def ping(self) -> None:
        await self._call(lambda ddb: ddb.describe_table(TableName=self.table))

    # --- helpers ------------------------------------------------------------------------------------------
    async def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = await self._call(
            lambda ddb: ddb.get_item(TableName=self.table, Key={"PK": _s(pk), "SK": _s(sk)}, ConsistentRead=True)
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    async def _query_prefix(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            args: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                "ExpressionAttributeValues": {":pk": _s(pk), ":prefix": _s(prefix)},
                "ConsistentRead": True,
            }
            if start:
                args["ExclusiveStartKey"] = start
            answer = await self._call(partial(_query, args=args))
            items.extend(answer.get("Items", []))
            start = answer.get("LastEvaluatedKey")
            if not start:
                return items

    async def _by_gsi(self, gsi_pk: str) -> dict[str, Any] | None:
        answer = await self._call(
            lambda ddb: ddb.query(
                TableName=self.table,
                IndexName=GSI1,
                KeyConditionExpression="GSI1PK = :pk",
                ExpressionAttributeValues={":pk": _s(gsi_pk)},
                Limit=1,
            )
        )
        items: list[dict[str, Any]] = answer.get("Items", [])
        return items[0] if items else None

    async def _transact(self, items: list[dict[str, Any]]) -> None:
        await self._call(lambda ddb: ddb.transact_write_items(TransactItems=items))

    async def _tenant_limits_or_raise(self, tenant_id: str) -> Tenant:
        tenant = await self.get_tenant(tenant_id)
        if tenant is None:
            raise LookupError(f"no tenant {tenant_id}")
        return tenant

    async def _project_item(self, tenant_id: str, project_id: str) -> dict[str, Any] | None:
        return await self._get(tenant_pk(tenant_id), project_sk(project_id))

    # --- tenants ------------------------------------------------------------------------------------------
    async def create_tenant(self, tenant: Tenant) -> None:
        item = {"PK": _s(tenant_pk(tenant.id)), "SK": _s("TENANT"), "type": _s("tenant"), "data": _data(tenant)}
        try:
            await self._call(
                lambda ddb: ddb.put_item(
                    TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(PK)"
                )
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise ConflictError(f"tenant {tenant.id} already exists") from exc
            raise

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        item = await self._get(tenant_pk(tenant_id), "TENANT")
        return _load(item, Tenant) if item else None

    # --- projects -----------------------------------------------------------------------------------------
    async def create_project(self, project: Project) -> None:
        tenant = await self._tenant_limits_or_raise(project.tenant_id)
        existing = await self._query_prefix(tenant_pk(project.tenant_id), "PROJECT#")
        if len(existing) >= tenant.limits.max_projects:
            raise LimitExceededError(f"the tenant may have at most {tenant.limits.max_projects} projects")
        pk = _s(tenant_pk(project.tenant_id))
        try:
            await self._transact(
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "PK": pk,
                                "SK": _s(project_sk(project.id)),
                                "type": _s("project"),
                                "version": _n(1),
                                "data": _data(project),
                            },
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"PK": pk, "SK": _s(project_name_sk(project.name)), "project_id": _s(project.id)},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                raise ConflictError(f"a project named {project.name!r} or with id {project.id} exists") from exc
            raise

    async def get_project(self, tenant_id: str, project_id: str) -> Project | None:
        item = await self._project_item(tenant_id, project_id)
        return _load(item, Project) if item else None

    async def list_projects(self, tenant_id: str) -> list[Project]:
        projects = [_load(item, Project) for item in await self._query_prefix(tenant_pk(tenant_id), "PROJECT#")]
        return sorted(projects, key=lambda p: (p.created_at, p.id))

    async def update_project(self, tenant_id: str, project_id: str, changes: ProjectChanges) -> Project | None:
        for _ in range(_VERSION_RETRIES):
            item = await self._project_item(tenant_id, project_id)
            if item is None:
                return None
            current = _load(item, Project)
            version = int(item["version"]["N"])
            updated = changes.apply(current, at=now_ms())
            keys = [
                key
                for key in await self._query_prefix(tenant_pk(tenant_id), f"KEY#{project_id}#")
                if _load(key, IngestKey).revoked_at is None
            ]
            pk = _s(tenant_pk(tenant_id))
            writes: list[dict[str, Any]] = [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"PK": pk, "SK": _s(project_sk(project_id))},
                        "UpdateExpression": "SET #data = :data, version = :next",
                        "ConditionExpression": "version = :seen",
                        "ExpressionAttributeNames": {"#data": "data"},
                        "ExpressionAttributeValues": {
                            ":data": _data(updated),
                            ":next": _n(version + 1),
                            ":seen": _n(version),
                        },
                    }
                }
            ]
            renamed = updated.name.casefold() != current.name.casefold()
            if renamed:
                writes.append(
                    {"Delete": {"TableName": self.table, "Key": {"PK": pk, "SK": _s(project_name_sk(current.name))}}}
                )
                writes.append(
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"PK": pk, "SK": _s(project_name_sk(updated.name)), "project_id": _s(project_id)},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    }
                )
            # Keys carry a copy of the project's limits so that resolving a key is one lookup: keep them in step.
            writes.extend(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"PK": key["PK"], "SK": key["SK"]},
                        "UpdateExpression": "SET #project = :project",
                        "ConditionExpression": "attribute_exists(PK)",
                        "ExpressionAttributeNames": {"#project": "project"},
                        "ExpressionAttributeValues": {":project": _data(updated)},
                    }
                }
                for key in keys
            )
            try:
                await self._transact(writes)
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise
                # writes[2] is the new name's guard when the project is renamed
                if renamed and _cancelled_because(exc)[2:3] == ["ConditionalCheckFailed"]:
                    raise ConflictError(f"a project named {updated.name!r} already exists") from exc
                continue  # the project or its keys changed meanwhile: read again
            return updated
        raise StoreUnavailableError("the project kept changing during the update; try again")

    async def delete_project(self, tenant_id: str, project_id: str) -> bool:
        item = await self._project_item(tenant_id, project_id)
        if item is None:
            return False
        project = _load(item, Project)
        pk = _s(tenant_pk(tenant_id))
        keys = await self._query_prefix(tenant_pk(tenant_id), f"KEY#{project_id}#")
        active = [key for key in keys if _load(key, IngestKey).revoked_at is None]
        writes: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"PK": pk, "SK": _s(project_sk(project_id))},
                    "ConditionExpression": "attribute_exists(PK)",
                }
            },
            {"Delete": {"TableName": self.table, "Key": {"PK": pk, "SK": _s(project_name_sk(project.name))}}},
            *({"Delete": {"TableName": self.table, "Key": {"PK": k["PK"], "SK": k["SK"]}}} for k in active),
        ]
        try:
            await self._transact(writes)
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                return False
            raise
        # Revoked keys resolve as revoked whatever happens; remove them after the atomic part.
        for key in keys:
            if key not in active:
                await self._call(partial(_delete, table=self.table, key={"PK": key["PK"], "SK": key["SK"]}))
        return True

    # --- ingest keys --------------------------------------------------------------------------------------
    def _key_put(self, key: IngestKey, project: Project) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "PK": _s(tenant_pk(key.tenant_id)),
                    "SK": _s(key_sk(key.project_id, key.id)),
                    "GSI1PK": _s(f"KH#{key.key_hash}"),
                    "GSI1SK": _s("KEY"),
                    "type": _s("ingest_key"),
                    "data": _data(key),
                    "project": _data(project),
                },
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _bump_project(self, tenant_id: str, project_id: str, version: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"PK": _s(tenant_pk(tenant_id)), "SK": _s(project_sk(project_id))},
                "UpdateExpression": "SET version = :next",
                "ConditionExpression": "version = :seen",
                "ExpressionAttributeValues": {":next": _n(version + 1), ":seen": _n(version)},
            }
        }

    async def create_key(self, key: IngestKey) -> None:
        tenant = await self._tenant_limits_or_raise(key.tenant_id)
        for _ in range(_VERSION_RETRIES):
            item = await self._project_item(key.tenant_id, key.project_id)
            if item is None:
                raise LookupError(f"no project {key.project_id} in tenant {key.tenant_id}")
            keys = await self.list_keys(key.tenant_id, key.project_id)
            if sum(1 for k in keys if not k.revoked) >= tenant.limits.max_keys_per_project:
                raise LimitExceededError(f"a project may have at most {tenant.limits.max_keys_per_project} active keys")
            version = int(item["version"]["N"])
            try:
                await self._transact(
                    [
                        self._bump_project(key.tenant_id, key.project_id, version),
                        self._key_put(key, _load(item, Project)),
                    ]
                )
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise
                if _cancelled_because(exc)[1:2] == ["ConditionalCheckFailed"]:
                    raise ConflictError(f"key {key.id} already exists") from exc
                continue  # the project changed meanwhile: take its new limits
            return
        raise StoreUnavailableError("the project kept changing while the key was created; try again")

    async def list_keys(self, tenant_id: str, project_id: str) -> list[IngestKey]:
        items = await self._query_prefix(tenant_pk(tenant_id), f"KEY#{project_id}#")
        return sorted((_load(item, IngestKey) for item in items), key=lambda k: (k.created_at, k.id))

    async def revoke_key(self, tenant_id: str, project_id: str, key_id: str, at: int) -> IngestKey | None:
        pk, sk = tenant_pk(tenant_id), key_sk(project_id, key_id)
        item = await self._get(pk, sk)
        if item is None:
            return None
        key = _load(item, IngestKey)
        if key.revoked:
            return key
        revoked = msgspec.structs.replace(key, revoked_at=at)
        try:
            await self._call(
                lambda ddb: ddb.update_item(
                    TableName=self.table,
                    Key={"PK": _s(pk), "SK": _s(sk)},
                    UpdateExpression="SET #data = :data",
                    ConditionExpression="#data = :seen",
                    ExpressionAttributeNames={"#data": "data"},
                    ExpressionAttributeValues={":data": _data(revoked), ":seen": item["data"]},
                )
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return await self.revoke_key(tenant_id, project_id, key_id, at)  # revoked concurrently: re-read
            raise
        return revoked

    async def rotate_key(self, tenant_id: str, project_id: str, old_key_id: str, new_key: IngestKey, at: int) -> bool:
        for _ in range(_VERSION_RETRIES):
            project_item = await self._project_item(tenant_id, project_id)
            old_item = await self._get(tenant_pk(tenant_id), key_sk(project_id, old_key_id))
            if project_item is None or old_item is None or _load(old_item, IngestKey).revoked:
                return False
            revoked = msgspec.structs.replace(_load(old_item, IngestKey), revoked_at=at)
            try:
                await self._transact(
                    [
                        self._bump_project(tenant_id, project_id, int(project_item["version"]["N"])),
                        {
                            "Update": {
                                "TableName": self.table,
                                "Key": {"PK": old_item["PK"], "SK": old_item["SK"]},
                                "UpdateExpression": "SET #data = :data",
                                "ConditionExpression": "#data = :seen",
                                "ExpressionAttributeNames": {"#data": "data"},
                                "ExpressionAttributeValues": {":data": _data(revoked), ":seen": old_item["data"]},
                            }
                        },
                        self._key_put(new_key, _load(project_item, Project)),
                    ]
                )
            except ClientError as exc:
                if _code(exc) == "TransactionCanceledException":
                    continue
                raise
            return True
        return False

    async def resolve_key(self, key_hash: str) -> KeyResolution | None:
        item = await self._by_gsi(f"KH#{key_hash}")
        if item is None:
            return None
        key = _load(item, IngestKey)
        project = _load({"data": item["project"]}, Project)
        return KeyResolution(
            key_id=key.id,
            project_id=key.project_id,
            tenant_id=key.tenant_id,
            project_enabled=project.enabled,
            retention_days=project.retention_days,
            rate_limit_eps=project.rate_limit_eps,
            rate_limit_burst=project.rate_limit_burst,
            revoked=key.revoked,
        )

    # --- dashboard tokens ---------------------------------------------------------------------------------
    async def create_token(self, token: DashboardToken) -> None:
        tenant = await self._tenant_limits_or_raise(token.tenant_id)
        now = now_ms()
        usable = sum(1 for existing in await self.list_tokens(token.tenant_id) if existing.usable(now))
        if usable >= tenant.limits.max_tokens:
            raise LimitExceededError(f"the tenant may have at most {tenant.limits.max_tokens} usable tokens")
        item = {
            "PK": _s(tenant_pk(token.tenant_id)),
            "SK": _s(token_sk(token.id)),
            "GSI1PK": _s(f"TH#{token.token_hash}"),
            "GSI1SK": _s("TOKEN"),
            "type": _s("dashboard_token"),
            "data": _data(token),
        }
        if token.expires_at is not None:
            item["ttl"] = _n(token.expires_at // 1000 + TOKEN_TTL_GRACE_S)
        try:
            await self._call(
                lambda ddb: ddb.put_item(
                    TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(PK)"
                )
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise ConflictError(f"token {token.id} already exists") from exc
            raise

    async def get_token_by_hash(self, token_hash: str) -> DashboardToken | None:
        item = await self._by_gsi(f"TH#{token_hash}")
        return _load(item, DashboardToken) if item else None

    async def list_tokens(self, tenant_id: str) -> list[DashboardToken]:
        items = await self._query_prefix(tenant_pk(tenant_id), "TOKEN#")
        return sorted((_load(item, DashboardToken) for item in items), key=lambda t: (t.created_at, t.id))

    async def revoke_token(self, tenant_id: str, token_id: str, at: int) -> DashboardToken | None:
        pk, sk = tenant_pk(tenant_id), token_sk(token_id)
        item = await self._get(pk, sk)
        if item is None:
            return None
        token = _load(item, DashboardToken)
        if token.revoked_at is not None:
            return token
        revoked = msgspec.structs.replace(token, revoked_at=at)
        try:
            await self._call(
                lambda ddb: ddb.update_item(
                    TableName=self.table,
                    Key={"PK": _s(pk), "SK": _s(sk)},
                    UpdateExpression="SET #data = :data",
                    ConditionExpression="#data = :seen",
                    ExpressionAttributeNames={"#data": "data"},
                    ExpressionAttributeValues={":data": _data(revoked), ":seen": item["data"]},
                )
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return await self.revoke_token(tenant_id, token_id, at)
            raise
        return revoked
