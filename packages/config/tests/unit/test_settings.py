"""Settings load from SENTINEL_* variables; a bad value names the variable and what is wrong."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import msgspec
import pytest
from msgspec import Meta

from sentinel_config import (
    AnalyticsSettings,
    ArchiveSettings,
    AwsSettings,
    ClickHouseSettings,
    ControlSettings,
    HttpServerSettings,
    LogSettings,
    RedisSettings,
    SettingsError,
    TinybirdSettings,
    document,
    load_or_exit,
    load_settings,
    redacted,
    render_env_example,
)


class ServerSection(HttpServerSettings, kw_only=True, frozen=True):
    port: Annotated[int, Meta(description="Port of the example service", ge=0, le=65_535)] = 9999


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    example: ServerSection = msgspec.field(default_factory=ServerSection)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)
    clickhouse: ClickHouseSettings = msgspec.field(default_factory=ClickHouseSettings)
    tinybird: TinybirdSettings = msgspec.field(default_factory=TinybirdSettings)
    archive: ArchiveSettings = msgspec.field(default_factory=ArchiveSettings)
    control: ControlSettings = msgspec.field(default_factory=ControlSettings)
    aws: AwsSettings = msgspec.field(default_factory=AwsSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


class Secretive(msgspec.Struct, kw_only=True, frozen=True):
    token: Annotated[int, Meta(description="a numeric secret", extra={"secret": True})] = 0


class WithSecret(msgspec.Struct, kw_only=True, frozen=True):
    vault: Secretive = msgspec.field(default_factory=Secretive)


class TestLoading:
    def test_defaults_apply_when_nothing_is_set(self) -> None:
        settings = load_settings(Settings, {})
        assert settings == Settings()
        assert settings.example.port == 9999
        assert settings.redis.url == "redis://127.0.0.1:6379/0"

    def test_values_are_read_and_converted_by_type(self) -> None:
        settings = load_settings(
            Settings,
            {
                "SENTINEL_EXAMPLE_PORT": "8080",
                "SENTINEL_EXAMPLE_GRACEFUL_TIMEOUT_S": "2.5",
                "SENTINEL_REDIS_URL": "rediss://cache.internal:6380/2",
                "SENTINEL_REDIS_PARTITIONS": "16",
                "SENTINEL_LOG_LEVEL": "DEBUG",
                "SENTINEL_LOG_FORMAT": "console",
                "SENTINEL_ARCHIVE_BACKEND": "s3",
                "SENTINEL_CONTROL_BACKEND": "dynamodb",
                "SENTINEL_CLICKHOUSE_PASSWORD": "hunter2",
                "UNRELATED": "ignored",
            },
        )
        assert settings.example.port == 8080
        assert settings.example.graceful_timeout_s == 2.5
        assert settings.redis.url == "rediss://cache.internal:6380/2"
        assert settings.redis.partitions == 16
        assert (settings.log.level, settings.log.format) == ("DEBUG", "console")
        assert settings.archive.backend == "s3"
        assert settings.control.backend == "dynamodb"
        assert settings.clickhouse.password == "hunter2"

    @pytest.mark.parametrize(
        ("variable", "value", "expected"),
        [
            ("SENTINEL_REDIS_PARTITIONS", "many", "expected `int`, got 'many'"),
            ("SENTINEL_REDIS_PARTITIONS", "0", ">= 1"),
            ("SENTINEL_REDIS_SOCKET_TIMEOUT_S", "-1", "> 0"),
            ("SENTINEL_REDIS_URL", "http://localhost:6379", "must be a redis:// or rediss:// or unix:// URL"),
            ("SENTINEL_CLICKHOUSE_URL", "localhost:8123", "must be a http:// or https:// URL"),
            ("SENTINEL_CLICKHOUSE_DATABASE", "drop table;", "matching regex"),
            ("SENTINEL_LOG_LEVEL", "LOUD", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
            ("SENTINEL_ANALYTICS_BACKEND", "postgres", "must be one of clickhouse, tinybird"),
            ("SENTINEL_ARCHIVE_BACKEND", "ftp", "must be one of local, s3"),
            ("SENTINEL_ARCHIVE_BUCKET", "Bad_Bucket", "matching regex"),
            ("SENTINEL_ARCHIVE_ENDPOINT_URL", "seaweed:8333", "must be a http:// or https:// URL"),
            ("SENTINEL_CONTROL_DYNAMODB_ENDPOINT_URL", "nope", "http://"),
            ("SENTINEL_EXAMPLE_PORT", "70000", "<= 65535"),
            ("SENTINEL_EXAMPLE_WORKERS", "0", ">= 1"),
            ("SENTINEL_REDIS_ULR", "redis://x", "unknown setting; known ones are"),
        ],
    )
    def test_bad_value_names_the_variable_and_the_problem(self, variable: str, value: str, expected: str) -> None:
        with pytest.raises(SettingsError) as info:
            load_settings(Settings, {variable: value})
        assert info.value.variable == variable
        assert expected in info.value.problem
        assert str(info.value).startswith(f"{variable}: ")
        assert "\n" not in str(info.value)

    def test_secret_values_are_not_echoed_in_errors(self) -> None:
        with pytest.raises(SettingsError) as info:
            load_settings(WithSecret, {"SENTINEL_VAULT_TOKEN": "s3cr3t-value"})
        assert "s3cr3t-value" not in str(info.value)
        assert "<secret>" in str(info.value)

    def test_load_or_exit_stops_with_one_line_and_status_2(self) -> None:
        code = (
            "import msgspec\n"
            "from sentinel_config import RedisSettings, load_or_exit\n"
            "class S(msgspec.Struct):\n"
            "    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)\n"
            "load_or_exit(S, 'sentinel-test')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={"SENTINEL_REDIS_PARTITIONS": "lots", "PATH": ""},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "sentinel-test: configuration error: SENTINEL_REDIS_PARTITIONS: expected `int`, got 'lots'"
        ]

    def test_load_or_exit_returns_settings_when_valid(self) -> None:
        assert load_or_exit(Settings, "x", {"SENTINEL_REDIS_PARTITIONS": "3"}).redis.partitions == 3


class TestDocumentation:
    def test_every_field_has_a_description(self) -> None:
        docs = document(Settings)
        assert docs
        missing = [doc.variable for doc in docs if not doc.description]
        assert missing == []

    def test_env_example_lists_each_variable_once_with_its_default_and_hides_secrets(self) -> None:
        text = render_env_example(Settings, Settings)
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        variables = [line.split("=", 1)[0] for line in lines]
        assert len(variables) == len(set(variables)) == len(document(Settings))
        assert "SENTINEL_REDIS_URL=redis://127.0.0.1:6379/0" in lines
        assert "SENTINEL_EXAMPLE_PORT=9999" in lines
        assert "SENTINEL_CLICKHOUSE_PASSWORD=" in lines
        assert "# ClickHouse password (secret)" in text

    def test_redacted_hides_set_secrets_only(self) -> None:
        settings = load_settings(Settings, {"SENTINEL_TINYBIRD_TOKEN": "p.secret"})
        shown = redacted(settings)
        assert shown["tinybird"]["token"] == "***"
        assert shown["clickhouse"]["password"] == ""
        assert shown["redis"]["url"] == "redis://127.0.0.1:6379/0"
