"""A missing engine fails with one line that says how to install it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel_local import DynamoDBEngine, EngineNotInstalled, RedisEngine


def test_missing_redis_server_names_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineNotInstalled) as info:
        RedisEngine(tmp_path / "data").start()
    message = str(info.value)
    assert "apt-get install -y redis-server" in message
    assert "\n" not in message


def test_missing_dynamodb_local_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_LOCAL_TOOLS_DIR", str(tmp_path / "empty"))
    with pytest.raises(EngineNotInstalled) as info:
        DynamoDBEngine(tmp_path / "data").start()
    assert "make engines" in str(info.value)
    assert "\n" not in str(info.value)
