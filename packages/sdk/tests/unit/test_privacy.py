"""Name-based redaction of headers, query parameters and body fields; body capture rules."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel_sdk._privacy import REDACTED, Redactor, is_text_body
from sentinel_types import limits

pytestmark = pytest.mark.unit


class TestHeaders:
    @pytest.mark.parametrize("name", ["Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"])
    def test_credential_headers_are_always_redacted(self, name: str) -> None:
        assert Redactor().headers([(name.encode(), b"secret value")]) == {name.lower(): REDACTED}

    @pytest.mark.parametrize("name", ["X-API-Key", "X-Auth-Token", "X-CSRF-Token", "X-Hub-Signature", "X-Session-Id"])
    def test_headers_with_secret_looking_names_are_redacted(self, name: str) -> None:
        assert Redactor().headers([(name, "abc")]) == {name.lower(): REDACTED}

    def test_the_apps_own_patterns_redact_more_headers(self) -> None:
        redactor = Redactor(redact_headers=["^x-tenant$"])
        assert redactor.headers([(b"x-tenant", b"acme"), (b"accept", b"*/*")]) == {
            "x-tenant": REDACTED,
            "accept": "*/*",
        }

    def test_other_header_values_are_scrubbed(self) -> None:
        assert Redactor().headers([(b"x-forwarded-email", b"jane@example.com")]) == {"x-forwarded-email": "[EMAIL]"}

    def test_scrubbing_can_be_turned_off_but_redaction_cannot(self) -> None:
        redactor = Redactor(scrub_values=False)
        assert redactor.headers([(b"from", b"jane@example.com"), (b"cookie", b"a=b")]) == {
            "from": "jane@example.com",
            "cookie": REDACTED,
        }

    def test_structured_headers_are_sent_as_they_are(self) -> None:
        traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        assert Redactor().headers([(b"traceparent", traceparent.encode())]) == {"traceparent": traceparent}

    def test_repeated_requests_get_the_same_redaction(self) -> None:
        redactor = Redactor()
        raw = [(b"x-user", b"jane@example.com"), (b"x-api-key", b"k1"), (b"accept", b"*/*")]
        first = redactor.headers(raw)
        assert redactor.headers(raw) == first == {"x-user": "[EMAIL]", "x-api-key": REDACTED, "accept": "*/*"}

    def test_repeated_headers_are_joined(self) -> None:
        assert Redactor().headers([(b"accept", b"a"), (b"Accept", b"b")]) == {"accept": "a, b"}

    def test_header_limits_are_applied(self) -> None:
        raw = [(f"x-h{index}".encode(), b"v" * 5_000) for index in range(limits.MAX_HEADERS + 10)]
        headers = Redactor().headers(raw)
        assert len(headers) == limits.MAX_HEADERS
        assert all(len(value) == limits.MAX_HEADER_VALUE_LENGTH for value in headers.values())


class TestQuery:
    @pytest.mark.parametrize(
        "name", ["token", "access_token", "api_key", "apikey", "password", "client_secret", "sig", "code", "key"]
    )
    def test_parameters_with_secret_names_are_redacted(self, name: str) -> None:
        assert Redactor().query(f"page=2&{name}=s3cr3t") == f"page=2&{name}={REDACTED}"

    def test_encoded_parameter_names_are_recognised(self) -> None:
        assert Redactor().query("api%5Fkey=s3cr3t") == f"api%5Fkey={REDACTED}"

    def test_ordinary_parameters_are_kept(self) -> None:
        assert Redactor().query("page=2&sort=name&author=jane&monkey=1") == "page=2&sort=name&author=jane&monkey=1"

    def test_the_apps_own_patterns_redact_more_parameters(self) -> None:
        assert Redactor(redact_query_params=["^tenant$"]).query("tenant=acme") == f"tenant={REDACTED}"

    def test_values_are_scrubbed_after_decoding(self) -> None:
        assert Redactor().query("email=jane%40example.com&q=hi") == "email=[EMAIL]&q=hi"

    def test_parameters_without_values_are_kept(self) -> None:
        assert Redactor().query("flag&token=&x=1") == "flag&token=&x=1"

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("jane@example.com", "[EMAIL]"),  # a part without "=" is a name alone
            ("4111111111111111&x=1", "[CARD]&x=1"),
            ("jane%40example.com=1", "[EMAIL]=1"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "[JWT]"),
            ("4111111111111112&x=1", "4111111111111112&x=1"),  # not a card number (Luhn)
            ("token_for_jane@example.com=abc", "[EMAIL]=[REDACTED]"),  # a secret name is scrubbed too
            ("q=jane%40example.com+%26x%3D1", "q=[EMAIL]+%26x%3D1"),  # what was decoded adds no parameter
            ("a%20b=c+d&%ZZ=1", "a%20b=c+d&%ZZ=1"),  # nothing found: the raw text
        ],
    )
    def test_names_and_bare_parts_are_scrubbed_too(self, query: str, expected: str) -> None:
        assert Redactor().query(query) == expected


class TestBodies:
    def test_json_fields_with_secret_names_are_redacted_at_any_depth(self) -> None:
        body = json.dumps({"user": {"name": "jane", "password": "hunter2"}, "items": [{"api_key": "k"}]}).encode()
        captured = json.loads(Redactor().body(body, "application/json", truncated=False))
        assert captured == {"user": {"name": "jane", "password": REDACTED}, "items": [{"api_key": REDACTED}]}

    def test_json_string_values_and_card_numbers_are_scrubbed(self) -> None:
        body = json.dumps({"contact": "jane@example.com", "number": 4111111111111111, "count": 3}).encode()
        captured = json.loads(Redactor().body(body, "application/vnd.api+json; charset=utf-8", truncated=False))
        assert captured == {"contact": "[EMAIL]", "number": "[CARD]", "count": 3}

    def test_truncated_json_still_has_secret_fields_redacted(self) -> None:
        body = b'{"password": "hunter2", "note": "call jane@example.com", "list": [1, 2'
        captured = Redactor().body(body, "application/json", truncated=True)
        assert "hunter2" not in captured
        assert "jane@example.com" not in captured
        assert captured.startswith(f'{{"password": "{REDACTED}"')

    def test_deeply_nested_json_falls_back_to_text_redaction(self) -> None:
        body = b"[" * 5_000 + b'{"password": "hunter2"}' + b"]" * 5_000
        assert "hunter2" not in Redactor().body(body, "application/json", truncated=False)

    def test_the_apps_own_patterns_redact_more_body_fields(self) -> None:
        captured = Redactor(redact_body_fields=["^ssn_last4$"]).body(
            b'{"ssn_last4": "1234"}', "application/json", False
        )
        assert json.loads(captured) == {"ssn_last4": REDACTED}

    def test_form_bodies_are_redacted_like_query_strings(self) -> None:
        captured = Redactor().body(b"user=jane&password=hunter2", "application/x-www-form-urlencoded", False)
        assert captured == f"user=jane&password={REDACTED}"

    def test_form_fields_follow_the_body_field_patterns(self) -> None:
        redactor = Redactor(redact_body_fields=["^nickname$"], redact_query_params=["^page$"])
        captured = redactor.body(
            b"nickname=bob&page=2&mail=jane%40example.com", "application/x-www-form-urlencoded", False
        )
        assert captured == f"nickname={REDACTED}&page=2&mail=[EMAIL]"

    def test_json_names_are_scrubbed_as_well_as_values(self) -> None:
        body = json.dumps({"jane@example.com": {"4111111111111111": "x"}, "password": "p"}).encode()
        captured = json.loads(Redactor().body(body, "application/json", truncated=False))
        assert captured == {"[EMAIL]": {"[CARD]": "x"}, "password": REDACTED}

    def test_names_scrubbed_alike_are_all_kept(self) -> None:
        body = json.dumps({"jane@example.com": 1, "bob@example.com": 2, "[EMAIL]": 3}).encode()
        captured = json.loads(Redactor().body(body, "application/json", truncated=False))
        assert captured == {"[EMAIL]": 1, "[EMAIL]#2": 2, "[EMAIL]#3": 3}

    def test_text_bodies_are_scrubbed(self) -> None:
        assert Redactor().body(b"card 4111111111111111", "text/plain", False) == "card [CARD]"

    def test_captured_bodies_are_capped_at_the_wire_limit(self) -> None:
        body = b"a" * (limits.MAX_CAPTURED_BODY_LENGTH + 100)
        assert len(Redactor().body(body, "text/plain", False)) == limits.MAX_CAPTURED_BODY_LENGTH

    @pytest.mark.parametrize(
        ("content_type", "captured"),
        [
            ("application/json", True),
            ("application/problem+json", True),
            ("text/html; charset=utf-8", True),
            ("application/x-www-form-urlencoded", True),
            ("image/png", False),
            ("application/octet-stream", False),
            ("multipart/form-data; boundary=x", False),
            (None, False),
        ],
    )
    def test_only_json_text_and_form_bodies_are_captured(self, content_type: str | None, captured: bool) -> None:
        assert is_text_body(content_type) is captured


@given(
    st.binary(max_size=2_000), st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
)
def test_body_processing_never_raises(body: bytes, content_type: str) -> None:
    for truncated in (False, True):
        assert isinstance(Redactor().body(body, content_type, truncated), str)


@given(st.text(max_size=300))
def test_query_redaction_never_raises(query: str) -> None:
    assert isinstance(Redactor().query(query), str)
