"""Client options: environment fallbacks, start-up validation, the inactive client."""

from __future__ import annotations

import logging

import pytest

from sentinel_sdk import Client

pytestmark = pytest.mark.unit


class TestConfiguration:
    def test_api_key_and_endpoint_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SENTINEL_API_KEY", "env-key")
        monkeypatch.setenv("SENTINEL_ENDPOINT", "https://ingest.example.com/")
        client = Client()
        assert client.options.api_key == "env-key"
        assert client.options.endpoint == "https://ingest.example.com"
        assert client.active

    def test_arguments_win_over_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SENTINEL_API_KEY", "env-key")
        client = Client(api_key="arg-key", endpoint="http://localhost:8000")
        assert client.options.api_key == "arg-key"

    def test_without_a_key_the_client_is_inactive_and_says_so(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.delenv("SENTINEL_API_KEY", raising=False)
        monkeypatch.delenv("SENTINEL_ENDPOINT", raising=False)
        from sentinel_sdk import _log

        _log.reset()
        with caplog.at_level(logging.WARNING, logger="sentinel_sdk"):
            client = Client()
        assert not client.active
        assert "SENTINEL_API_KEY" in caplog.text

    def test_a_disabled_client_is_inactive(self) -> None:
        assert not Client(api_key="k", endpoint="http://localhost", enabled=False).active

    def test_defaults_match_the_documented_ones(self) -> None:
        options = Client(api_key="k", endpoint="http://localhost").options
        assert (options.buffer_size, options.batch_size, options.flush_interval) == (10_000, 1_000, 2.0)
        assert (options.wire_format, options.compress, options.shutdown_timeout) == ("msgpack", True, 2.0)
        assert (options.capture_headers, options.capture_bodies, options.scrub_values) == (False, False, True)


class TestValidation:
    @pytest.mark.parametrize("key", ["sk live", "sk_live\r\nX-Injected: 1", "sk_l\u00efve"])
    def test_an_api_key_that_cannot_go_into_a_header_fails_at_start_up(self, key: str) -> None:
        with pytest.raises(ValueError, match="api_key"):
            Client(api_key=key, endpoint="http://localhost")

    @pytest.mark.parametrize(
        ("options", "named"),
        [
            ({"sample_rate": 0}, "sample_rate"),
            ({"sample_rate": 1.5}, "sample_rate"),
            ({"buffer_size": 0}, "buffer_size"),
            ({"batch_size": 5_000}, "batch_size"),
            ({"trusted_proxies": ["not-a-network"]}, "trusted_proxies"),
            ({"exclude_paths": ["("]}, "exclude_paths"),
            ({"wire_format": "xml"}, "wire_format"),
            ({"anonymize_ip": "hash"}, "ip_hash_key"),
            ({"ip_hash_key": "short"}, "ip_hash_key"),
            ({"max_body_size": 10**9}, "max_body_size"),
            ({"endpoint": "ftp://example.com"}, "endpoint"),
            ({"endpoint": "https://ingest.example.com/a b"}, "endpoint"),
            ({"endpoint": "https://ingest.example.com\r\nX-Injected: 1"}, "endpoint"),
            ({"endpoint": "https://ingest.example.com:99999"}, "endpoint"),
            ({"service": ""}, "service"),
        ],
    )
    def test_bad_values_fail_at_start_up_naming_the_option(self, options: dict[str, object], named: str) -> None:
        options.setdefault("endpoint", "http://localhost")
        with pytest.raises(ValueError, match=named):
            Client(api_key="k", **options)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("options", "named"),
        [({"capture_headers": "authorization"}, "capture_headers"), ({"compress": "yes"}, "compress")],
    )
    def test_wrong_types_fail_naming_the_option(self, options: dict[str, object], named: str) -> None:
        with pytest.raises(TypeError, match=named):
            Client(api_key="k", endpoint="http://localhost", **options)  # type: ignore[arg-type]

    def test_an_unknown_option_is_named(self) -> None:
        with pytest.raises(TypeError, match="'sampel_rate'"):
            Client(api_key="k", endpoint="http://localhost", sampel_rate=0.5)

    def test_header_allowlists_are_normalised(self) -> None:
        client = Client(api_key="k", endpoint="http://localhost", capture_headers=[" Accept ", "X-Request-ID"])
        assert client.options.capture_headers == ("accept", "x-request-id")
