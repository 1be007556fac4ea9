"""Job methods of the DynamoDB store.

A job is ``PK=T#<tenant>, SK=JOB#<job>`` with ``GSI1PK=P#<project>#JOBS, GSI1SK=<created_at>#<job>`` (a project's
jobs, newest first), written in one transaction with a pointer item ``PK=JOB#<job>, SK=JOB`` naming its tenant
(signed callbacks carry only the job id). Finished jobs expire after ``JOB_TTL_DAYS`` through ``ttl``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from sentinel_control._dynamo_items import (
    attr_data,
    attr_n,
    attr_s,
    error_code,
    load_record,
    query_call,
    tenant_pk,
)
from sentinel_control.errors import ConflictError
from sentinel_control.jobs import Job, JobChanges
from sentinel_control.models import now_ms

GSI1 = "GSI1"
JOB_TTL_DAYS = 90


def job_sk(job_id: str) -> str:
    return f"JOB#{job_id}"


def _job_item(job: Job) -> dict[str, Any]:
    item = {
        "PK": attr_s(tenant_pk(job.tenant_id)),
        "SK": attr_s(job_sk(job.id)),
        "GSI1PK": attr_s(f"P#{job.project_id}#JOBS"),
        "GSI1SK": attr_s(f"{job.created_at:013d}#{job.id}"),
        "type": attr_s("job"),
        "version": attr_n(job.version),
        "data": attr_data(job),
    }
    if job.finished_at is not None:
        item["ttl"] = attr_n(job.finished_at // 1000 + JOB_TTL_DAYS * 86_400)
    return item


class DynamoJobs:
    """Mixed into ``DynamoControlStore``; relies on its ``table``, ``_call`` and ``_get``."""

    table: str
    _call: Any
    _get: Any

    async def create_job(self, job: Job) -> None:
        pointer = {"PK": attr_s(f"JOB#{job.id}"), "SK": attr_s("JOB"), "tenant_id": attr_s(job.tenant_id)}
        writes = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": _job_item(job),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {"Put": {"TableName": self.table, "Item": pointer, "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
        try:
            await self._call(lambda ddb: ddb.transact_write_items(TransactItems=writes))
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                raise ConflictError(f"job {job.id} already exists") from exc
            raise

    async def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        item = await self._get(tenant_pk(tenant_id), job_sk(job_id))
        return load_record(item, Job) if item else None

    async def find_job(self, job_id: str) -> Job | None:
        pointer = await self._get(f"JOB#{job_id}", "JOB")
        if pointer is None:
            return None
        return await self.get_job(pointer["tenant_id"]["S"], job_id)

    async def list_jobs(
        self, tenant_id: str, project_id: str, limit: int = 50, *, before: tuple[int, str] | None = None
    ) -> list[Job]:
        condition, values = "GSI1PK = :pk", {":pk": attr_s(f"P#{project_id}#JOBS")}
        if before is not None:
            condition += " AND GSI1SK < :before"
            values[":before"] = attr_s(f"{before[0]:013d}#{before[1]}")
        jobs: list[Job] = []
        start: dict[str, Any] | None = None
        # A query page stops at 1 MB of items (a job's result may be 128 KiB): read on until ``limit`` jobs.
        while len(jobs) < limit:
            args: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": GSI1,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                "Limit": limit - len(jobs),
            }
            if start is not None:
                args["ExclusiveStartKey"] = start
            answer = await self._call(partial(query_call, args=args))
            for item in answer.get("Items", []):
                job = load_record(item, Job)
                if job.tenant_id == tenant_id:
                    jobs.append(job)
            start = answer.get("LastEvaluatedKey")
            if start is None:
                break
        return jobs

    async def update_job(self, tenant_id: str, job_id: str, changes: JobChanges, expected_version: int) -> Job | None:
        current = await self.get_job(tenant_id, job_id)
        if current is None:
            return None
        if current.version != expected_version:
            raise ConflictError(f"job {job_id} is at version {current.version}, not {expected_version}")
        updated = changes.apply(current, at=now_ms())
        try:
            await self._call(
                lambda ddb: ddb.put_item(
                    TableName=self.table,
                    Item=_job_item(updated),
                    ConditionExpression="version = :seen",
                    ExpressionAttributeValues={":seen": attr_n(expected_version)},
                )
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise ConflictError(f"job {job_id} changed meanwhile") from exc
            raise
        return updated
