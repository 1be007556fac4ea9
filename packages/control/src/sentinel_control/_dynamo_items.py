"""Item shapes of the DynamoDB single table: key builders and attribute encoders."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from botocore.exceptions import ClientError

R = TypeVar("R", bound=msgspec.Struct)


def tenant_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def project_sk(project_id: str) -> str:
    return f"PROJECT#{project_id}"


def project_name_sk(name: str) -> str:
    return f"PNAME#{name.casefold()}"


def key_sk(project_id: str, key_id: str) -> str:
    return f"KEY#{project_id}#{key_id}"


def token_sk(token_id: str) -> str:
    return f"TOKEN#{token_id}"


def attr_s(value: str) -> dict[str, str]:
    return {"S": value}


def attr_n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def attr_data(record: msgspec.Struct) -> dict[str, str]:
    return {"S": msgspec.json.encode(record).decode()}


def load_record(item: dict[str, Any], type_: type[R]) -> R:
    return msgspec.json.decode(item["data"]["S"], type=type_)


def cancelled_because(exc: ClientError) -> list[str]:
    return [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]


async def query_call(ddb: Any, *, args: dict[str, Any]) -> Any:
    return await ddb.query(**args)


async def delete_call(ddb: Any, *, table: str, key: dict[str, Any]) -> Any:
    return await ddb.delete_item(TableName=table, Key=key)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
