"""Secrets: shape, entropy, keyed hashing, constant-time comparison."""

from __future__ import annotations

import pytest

from sentinel_control import INGEST_KEY_PREFIX, TOKEN_PREFIX, SecretHasher, is_id, looks_like, new_id

SECRET = "a-server-secret-of-at-least-32-characters!"


def test_issued_ingest_key_has_the_documented_shape() -> None:
    issued = SecretHasher(SECRET).issue(INGEST_KEY_PREFIX)
    assert issued.value.startswith("snt_")
    assert len(issued.value) == 4 + 43
    assert looks_like(issued.value, INGEST_KEY_PREFIX)
    assert not looks_like(issued.value, TOKEN_PREFIX)
    assert issued.visible == issued.value[:12]
    assert issued.value not in issued.hash


def test_secrets_do_not_repeat() -> None:
    hasher = SecretHasher(SECRET)
    assert len({hasher.issue(TOKEN_PREFIX).value for _ in range(1_000)}) == 1_000


def test_hash_is_keyed_by_the_server_secret() -> None:
    value = SecretHasher(SECRET).issue(INGEST_KEY_PREFIX).value
    assert SecretHasher(SECRET).hash(value) != SecretHasher(SECRET + "x").hash(value)
    assert SecretHasher(SECRET).matches(value, SecretHasher(SECRET).hash(value))
    assert not SecretHasher(SECRET).matches(value + "x", SecretHasher(SECRET).hash(value))


def test_short_server_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        SecretHasher("short")


@pytest.mark.parametrize(
    "presented",
    ["", "snt_", "snt_short", "sdt_" + "a" * 43, "snt_" + "a" * 42 + "!", "snt_" + "a" * 44, "Bearer snt_" + "a" * 43],
)
def test_malformed_keys_are_refused_before_hashing(presented: str) -> None:
    assert not looks_like(presented, INGEST_KEY_PREFIX)


def test_ids_carry_their_kind() -> None:
    project_id = new_id("prj")
    assert is_id("prj", project_id)
    assert not is_id("ten", project_id)
    assert not is_id("prj", project_id + "x")
    assert not is_id("prj", "prj_../../etc")
