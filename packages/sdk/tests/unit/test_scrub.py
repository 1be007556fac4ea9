"""Value-based scrubbing: every kind of secret found by its shape, and nothing else touched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel_sdk._scrub import is_card_number, luhn_valid, scrub, scrub_path

pytestmark = pytest.mark.unit

VALID_CARDS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "4000056655665556"]


def luhn_reference(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def with_check_digit(body: str) -> str:
    """``body`` plus the digit that makes it pass Luhn."""
    return next(body + digit for digit in "0123456789" if luhn_reference(body + digit))


class TestLuhn:
    @pytest.mark.parametrize("number", VALID_CARDS)
    def test_known_test_card_numbers_pass(self, number: str) -> None:
        assert luhn_valid(number)

    def test_a_changed_digit_fails(self) -> None:
        assert not luhn_valid("4111111111111112")

    @given(st.text(alphabet="0123456789", min_size=1, max_size=30))
    def test_agrees_with_a_reference_implementation(self, digits: str) -> None:
        assert luhn_valid(digits) == luhn_reference(digits)


class TestCardNumbers:
    @pytest.mark.parametrize("number", [*VALID_CARDS, "4111 1111 1111 1111", "4111-1111-1111-1111"])
    def test_card_numbers_are_replaced(self, number: str) -> None:
        assert scrub(f"paid with {number} today") == "paid with [CARD] today"

    def test_a_number_failing_luhn_is_kept(self) -> None:
        assert scrub("order 4111111111111112") == "order 4111111111111112"

    def test_a_millisecond_timestamp_is_kept(self) -> None:
        # 13 digits that may pass Luhn, but no card network starts with 1.
        assert scrub("since=1700000000000") == "since=1700000000000"

    def test_too_short_and_too_long_digit_runs_are_kept(self) -> None:
        assert not is_card_number("411111111111")
        assert scrub("41111111111111111111111") == "41111111111111111111111"

    @given(st.text(alphabet="0123456789", min_size=12, max_size=18).map(lambda body: "4" + body))
    def test_every_luhn_valid_visa_shaped_number_is_replaced(self, body: str) -> None:
        number = with_check_digit(body[:18])
        assert scrub(f"card {number}.") == "card [CARD]."


class TestOtherSecrets:
    def test_emails_are_replaced(self) -> None:
        assert scrub("contact jane.doe+api@example.co.uk now") == "contact [EMAIL] now"

    def test_jwts_are_replaced(self) -> None:
        jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        assert scrub(f"token={jwt}&x=1") == "token=[JWT]&x=1"

    @pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "Basic"])
    def test_authorization_credentials_keep_their_scheme(self, scheme: str) -> None:
        assert scrub(f"auth: {scheme} abcdef0123456789") == f"auth: {scheme} [TOKEN]"

    @pytest.mark.parametrize(
        "key",
        [
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "pk_test_TYooMQauvdEDq54NiTphI7jx",
            "ghp_1234567890abcdefghijklmnopqrstuvwxyz12",
            "AKIAIOSFODNN7EXAMPLE",
            "xoxb-123456789012-abcdefghij",
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        ],
    )
    def test_api_keys_with_known_prefixes_are_replaced(self, key: str) -> None:
        assert scrub(f"key {key} end") == "key [API_KEY] end"

    def test_long_random_mixed_case_tokens_are_replaced(self) -> None:
        assert scrub("/download/Xk9fQ2mZp7LrT4vW8yB1nC6dE3gH5jK0") == "/download/[API_KEY]"

    def test_hashes_uuids_and_slugs_are_kept(self) -> None:
        for text in (
            "/commits/9fceb02d0ae598e95dc970b74767f19372d61af8",
            "/users/3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "/blog/how-we-made-our-api-twice-as-fast-this-year",
        ):
            assert scrub(text) == text

    def test_plain_text_is_unchanged(self) -> None:
        assert scrub("hello world, 42 apples") == "hello world, 42 apples"


class TestPaths:
    def test_secrets_in_path_segments_are_replaced(self) -> None:
        assert scrub_path("/users/jane@example.com/cards/4111111111111111") == "/users/[EMAIL]/cards/[CARD]"

    def test_ordinary_paths_are_returned_as_they_are(self) -> None:
        path = "/api/v1/organizations/acme/projects/42"
        assert scrub_path(path) == path


@given(st.text(max_size=400))
def test_scrubbing_never_raises_and_is_stable(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once


@given(st.emails().filter(lambda email: "/" not in email))
def test_no_email_survives_scrubbing(email: str) -> None:
    assert email not in scrub(f"from {email} to someone")


_PIECES = st.sampled_from(
    ["4111 1111 1111 1111", "4111111111111111", "jane@example.com", "Bearer abcdefgh12", "eyJhbGciOi.eyJzdWIiOi.x",
     "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "Xk9fQ2mZp7LrT4vW8yB1nC6dE3gH5jK0", "1700000000000", "/", " ", "-", "ab", "7"]
)  # fmt: skip


@given(st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=12).map("".join))
def test_the_pre_check_never_changes_the_result(text: str) -> None:
    from sentinel_sdk._scrub import _PATTERN, _replace

    assert scrub(text) == _PATTERN.sub(_replace, text)
