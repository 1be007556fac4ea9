"""Open the configured control store."""

from __future__ import annotations

from sentinel_config import AwsSettings, ControlSettings, SettingsError, env_name
from sentinel_control.credentials import MIN_SERVER_SECRET_LENGTH, SecretHasher
from sentinel_control.dynamodb import DynamoControlStore
from sentinel_control.sqlite import SqliteControlStore
from sentinel_control.store import ControlStore


def open_control_store(control: ControlSettings, aws: AwsSettings | None = None) -> ControlStore:
    """The store ``SENTINEL_CONTROL_BACKEND`` names (call ``setup()`` before use)."""
    if control.backend == "dynamodb":
        aws = aws or AwsSettings()
        return DynamoControlStore(
            control.dynamodb_table,
            endpoint_url=control.dynamodb_endpoint_url or None,
            region=aws.region,
            access_key_id=aws.access_key_id or None,
            secret_access_key=aws.secret_access_key or None,
        )
    return SqliteControlStore(control.sqlite_path)


def hasher_from(control: ControlSettings) -> SecretHasher:
    """The keyed hasher from ``SENTINEL_CONTROL_HASH_SECRET``; a missing or short secret is a settings error."""
    if len(control.hash_secret) < MIN_SERVER_SECRET_LENGTH:
        raise SettingsError(
            env_name("control", "hash_secret"),
            f"required, at least {MIN_SERVER_SECRET_LENGTH} characters; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` and keep it: changing it invalidates "
            "every key and token",
        )
    return SecretHasher(control.hash_secret)
