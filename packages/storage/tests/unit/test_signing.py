from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from sentinel_storage import LOCAL_OBJECT_ROUTE, LocalUrlSigner

SECRET = "s" * 40


def _parts(url: str) -> tuple[str, int, str]:
    query = parse_qs(urlsplit(url).query)
    return query["key"][0], int(query["expires"][0]), query["signature"][0]


class TestLocalUrlSigner:
    def test_url_points_at_the_route_and_verifies(self) -> None:
        signer = LocalUrlSigner(SECRET, "http://127.0.0.1:8300/")
        url = signer.url("tenants/t1/a b.py", 60, now=1_000)
        assert url.startswith(f"http://127.0.0.1:8300{LOCAL_OBJECT_ROUTE}?")
        key, expires, signature = _parts(url)
        assert (key, expires) == ("tenants/t1/a b.py", 1_060)
        assert signer.verify(key, expires, signature, now=1_059)
        assert signer.verify(key, expires, signature, now=1_060)

    def test_expired_url_fails(self) -> None:
        signer = LocalUrlSigner(SECRET, "http://h")
        key, expires, signature = _parts(signer.url("k", 60, now=1_000))
        assert not signer.verify(key, expires, signature, now=1_061)

    def test_tampering_with_any_part_fails(self) -> None:
        signer = LocalUrlSigner(SECRET, "http://h")
        key, expires, signature = _parts(signer.url("tenants/t1/k", 60, now=1_000))
        assert not signer.verify("tenants/t2/k", expires, signature, now=1_000)
        assert not signer.verify(key, expires + 3600, signature, now=1_000)
        flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
        assert not signer.verify(key, expires, flipped, now=1_000)
        assert not signer.verify(key, expires, "", now=1_000)
        assert not signer.verify(key, expires, "zz\u00e9", now=1_000)

    def test_another_secret_does_not_verify(self) -> None:
        key, expires, signature = _parts(LocalUrlSigner(SECRET, "http://h").url("k", 60, now=1_000))
        assert not LocalUrlSigner("t" * 40, "http://h").verify(key, expires, signature, now=1_000)

    def test_invalid_key_never_verifies(self) -> None:
        signer = LocalUrlSigner(SECRET, "http://h")
        expires = 2_000
        assert not signer.verify("../etc/passwd", expires, signer.signature("../etc/passwd", expires), now=1_000)

    def test_short_secret_is_refused(self) -> None:
        with pytest.raises(ValueError, match="32 characters"):
            LocalUrlSigner("short", "http://h")
