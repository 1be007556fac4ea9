"""``DynamoControlStore.setup`` on DynamoDB Local: a table that exists is only described (the deployed services'
roles grant DescribeTable, not CreateTable); a missing one is created with its TTL, once, even by racing processes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sentinel_control import DynamoControlStore
from sentinel_local import DynamoDBEngine


def store_on(engine: DynamoDBEngine, table: str) -> DynamoControlStore:
    return DynamoControlStore(table, endpoint_url=engine.url, access_key_id="test", secret_access_key="test")


async def calls_made(store: DynamoControlStore) -> list[str]:
    """Run ``setup`` and list the DynamoDB operations it called, in order."""
    made: list[str] = []

    def record(model: Any, **_: Any) -> None:
        made.append(model.name)

    client = await store._ddb()
    client.meta.events.register("before-call.dynamodb.*", record)
    await store.setup()
    return made


async def test_an_existing_table_is_only_described(dynamodb_server: DynamoDBEngine) -> None:
    table = f"control-{uuid.uuid4().hex[:12]}"
    first, second = store_on(dynamodb_server, table), store_on(dynamodb_server, table)
    try:
        created = await calls_made(first)
        assert "CreateTable" in created
        assert "UpdateTimeToLive" in created
        assert set(await calls_made(second)) == {"DescribeTable"}
        await second.ping()
    finally:
        await first.close()
        await second.close()


async def test_processes_starting_together_create_the_table_once(dynamodb_server: DynamoDBEngine) -> None:
    table = f"control-{uuid.uuid4().hex[:12]}"
    stores = [store_on(dynamodb_server, table) for _ in range(4)]
    try:
        await asyncio.gather(*(store.setup() for store in stores))
        client = await stores[0]._ddb()
        described = await client.describe_time_to_live(TableName=table)
        assert described["TimeToLiveDescription"]["AttributeName"] == "ttl"
    finally:
        for store in stores:
            await store.close()
