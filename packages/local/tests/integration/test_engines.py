"""One real round trip per engine, through the clients the services use."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid

import aioboto3
import clickhouse_connect
import psutil
import pytest
import redis.asyncio as redis
from botocore.config import Config
from botocore.exceptions import ClientError

from sentinel_local import ClickHouseEngine, DynamoDBEngine, Engine, MotoEngine, RedisEngine, SeaweedS3Engine


def listening_addresses(engine: Engine) -> set[str]:
    assert engine.process is not None
    assert engine.process.pid is not None
    root = psutil.Process(engine.process.pid)
    addresses: set[str] = set()
    for process in (root, *root.children(recursive=True)):
        for connection in process.net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN:
                addresses.add(connection.laddr.ip)
    return addresses


def assert_loopback_only(engine: Engine) -> None:
    addresses = listening_addresses(engine)
    assert addresses, f"{engine.name} listens nowhere"
    assert addresses <= {"127.0.0.1", "::ffff:127.0.0.1"}, f"{engine.name} listens on {addresses}"


def aws_session() -> aioboto3.Session:
    return aioboto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")


class TestRedis:
    async def test_stream_entry_written_with_xadd_is_read_back_with_xread(self, redis_server: RedisEngine) -> None:
        client = redis.Redis.from_url(redis_server.url)
        stream = f"test:{uuid.uuid4().hex}"
        try:
            entry_id = await client.xadd(stream, {"payload": b"\x00\x01batch"})
            entries = await client.xread({stream: "0"}, count=10)
        finally:
            await client.aclose()
        assert entries == [[stream.encode(), [(entry_id, {b"payload": b"\x00\x01batch"})]]]

    def test_listens_on_loopback_only(self, redis_server: RedisEngine) -> None:
        assert_loopback_only(redis_server)


class TestClickHouse:
    async def test_create_insert_select_over_http_with_the_async_client(
        self, clickhouse_server: ClickHouseEngine
    ) -> None:
        client = await clickhouse_connect.get_async_client(
            host="127.0.0.1", port=clickhouse_server.port, username="default"
        )
        table = f"t_{uuid.uuid4().hex[:8]}"
        try:
            await client.command(
                f"CREATE TABLE {table} (route String, status UInt16, duration Float64) "
                "ENGINE = MergeTree ORDER BY route"
            )
            await client.insert(
                table,
                [["/a", 200, 1.5], ["/a", 500, 2.5], ["/b", 404, 10.0]],
                column_names=["route", "status", "duration"],
            )
            result = await client.query(
                f"SELECT route, count(), sum(duration) FROM {table} WHERE"  # noqa: S608 - generated table name
                " status >= {min_status:UInt16} "
                "GROUP BY route ORDER BY route",
                parameters={"min_status": 400},
            )
        finally:
            await client.close()
        assert result.result_rows == [("/a", 1, 2.5), ("/b", 1, 10.0)]

    def test_listens_on_loopback_only(self, clickhouse_server: ClickHouseEngine) -> None:
        assert_loopback_only(clickhouse_server)


class TestDynamoDB:
    async def test_put_get_and_conditional_write(self, dynamodb_server: DynamoDBEngine) -> None:
        table = f"t{uuid.uuid4().hex[:8]}"
        async with aws_session().client("dynamodb", endpoint_url=dynamodb_server.url) as ddb:
            await ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            item = {"pk": {"S": "TENANT#t1"}, "sk": {"S": "PROJECT#p1"}, "name": {"S": "shop"}}
            await ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            with pytest.raises(ClientError) as info:
                await ddb.put_item(
                    TableName=table,
                    Item={**item, "name": {"S": "other"}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            got = await ddb.get_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True)
        assert info.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        assert got["Item"]["name"] == {"S": "shop"}

    def test_listens_on_loopback_only(self, dynamodb_server: DynamoDBEngine) -> None:
        assert_loopback_only(dynamodb_server)


class TestS3:
    def session(self, s3: SeaweedS3Engine) -> aioboto3.Session:
        return aioboto3.Session(
            aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret_key, region_name=s3.region
        )

    def config(self) -> Config:
        return Config(signature_version="s3v4", s3={"addressing_style": "path"})

    async def test_put_then_presigned_get_returns_the_object(self, s3_server: SeaweedS3Engine) -> None:
        bucket, key = f"b-{uuid.uuid4().hex[:12]}", "tenant=t1/scripts/report.py"
        async with self.session(s3_server).client("s3", endpoint_url=s3_server.url, config=self.config()) as s3:
            await s3.create_bucket(Bucket=bucket)
            await s3.put_object(Bucket=bucket, Key=key, Body=b"print('hi')")
            url = await s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        assert body == b"print('hi')"

    async def test_tampered_and_expired_presigned_urls_are_rejected(self, s3_server: SeaweedS3Engine) -> None:
        bucket = f"b-{uuid.uuid4().hex[:12]}"
        async with self.session(s3_server).client("s3", endpoint_url=s3_server.url, config=self.config()) as s3:
            await s3.create_bucket(Bucket=bucket)
            await s3.put_object(Bucket=bucket, Key="tenant=a/x", Body=b"a")
            await s3.put_object(Bucket=bucket, Key="tenant=b/x", Body=b"b")
            url = await s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "tenant=a/x"}, ExpiresIn=60
            )
            short = await s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "tenant=a/x"}, ExpiresIn=1
            )
        await asyncio.sleep(2.1)
        for bad in (url.replace("tenant%3Da", "tenant%3Db").replace("tenant=a", "tenant=b"), short):
            with pytest.raises(urllib.error.HTTPError) as info:
                await asyncio.to_thread(lambda u=bad: urllib.request.urlopen(u, timeout=5).read())
            assert info.value.code == 403

    def test_listens_on_loopback_only(self, s3_server: SeaweedS3Engine) -> None:
        assert_loopback_only(s3_server)


class TestMoto:
    async def test_put_events_reaches_an_sqs_target_of_a_rule(self, moto_server: MotoEngine) -> None:
        session = aws_session()
        suffix = uuid.uuid4().hex[:8]
        async with (
            session.client("events", endpoint_url=moto_server.url) as events,
            session.client("sqs", endpoint_url=moto_server.url) as sqs,
        ):
            queue_url = (await sqs.create_queue(QueueName=f"sync-{suffix}"))["QueueUrl"]
            queue_arn = (await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"]))["Attributes"][
                "QueueArn"
            ]
            await events.put_rule(
                Name=f"sync-{suffix}",
                EventPattern=json.dumps({"source": ["sentinel.orchestration"], "detail-type": ["SyncRequested"]}),
            )
            await events.put_targets(Rule=f"sync-{suffix}", Targets=[{"Id": "queue", "Arn": queue_arn}])
            answer = await events.put_events(
                Entries=[
                    {
                        "Source": "sentinel.orchestration",
                        "DetailType": "SyncRequested",
                        "Detail": json.dumps({"job_id": suffix}),
                    }
                ]
            )
            messages = (await sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)).get("Messages", [])
        assert answer["FailedEntryCount"] == 0
        assert [json.loads(m["Body"])["detail"] for m in messages] == [{"job_id": suffix}]

    def test_listens_on_loopback_only(self, moto_server: MotoEngine) -> None:
        assert_loopback_only(moto_server)


class TestLifecycle:
    def test_stop_leaves_no_process_behind(self, tmp_path: object) -> None:
        from pathlib import Path

        engine = RedisEngine(Path(str(tmp_path)))
        engine.start()
        assert engine.process is not None
        pid = engine.process.pid
        engine.stop()
        assert (pid is not None and not psutil.pid_exists(pid)) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    async def test_clickhouse_data_survives_sigkill_and_restart(self, tmp_path: object) -> None:
        from pathlib import Path

        engine = ClickHouseEngine(Path(str(tmp_path)))
        with engine:
            client = await clickhouse_connect.get_async_client(host="127.0.0.1", port=engine.port)
            await client.command("CREATE TABLE kept (n UInt32) ENGINE = MergeTree ORDER BY n")
            await client.insert("kept", [[1], [2], [3]], column_names=["n"])
            await client.close()
            engine.kill()
            started = time.monotonic()
            engine.restart()
            client = await clickhouse_connect.get_async_client(host="127.0.0.1", port=engine.port)
            total = (await client.query("SELECT sum(n) FROM kept")).result_rows
            await client.close()
        assert total == [(6,)]
        assert time.monotonic() - started < 60

    async def test_persistent_redis_keeps_stream_entries_across_restart(self, tmp_path: object) -> None:
        from pathlib import Path

        engine = RedisEngine(Path(str(tmp_path)), persistent=True)
        with engine:
            client = redis.Redis.from_url(engine.url)
            await client.xadd("kept", {"n": "1"})
            await client.aclose()
            await asyncio.sleep(1.2)  # appendfsync everysec
            engine.restart()
            client = redis.Redis.from_url(engine.url)
            length = await client.xlen("kept")
            await client.aclose()
        assert length == 1
