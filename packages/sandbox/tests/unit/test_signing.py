from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from sentinel_sandbox import SignatureFailure, sign, verify
from sentinel_sandbox.callback import encode_body

SECRET = "job-secret-0f3a"
BODY = encode_body("job-1", "succeeded", {"rows": 3}, "ok", {"rows_read": 3})
NOW = 1_800_000_000


class TestSign:
    def test_header_is_timestamp_and_hex_hmac_of_timestamp_dot_body(self) -> None:
        expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()

        assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"

    def test_callback_body_is_compact_sorted_json(self) -> None:
        assert BODY == (
            b'{"job_id":"job-1","logs":"ok","result":{"rows":3},"status":"succeeded","usage":{"rows_read":3}}'
        )


class TestVerify:
    def test_valid_signature_is_accepted(self) -> None:
        check = verify(SECRET, sign(SECRET, BODY, NOW), BODY, NOW)

        assert check
        assert check.ok
        assert check.failure is None

    def test_missing_header_is_refused(self) -> None:
        assert verify(SECRET, None, BODY, NOW).failure == SignatureFailure.MISSING
        assert verify(SECRET, "  ", BODY, NOW).failure == SignatureFailure.MISSING

    def test_other_secret_is_a_bad_signature(self) -> None:
        check = verify(SECRET, sign("someone-else", BODY, NOW), BODY, NOW)

        assert not check
        assert check.failure == SignatureFailure.BAD_SIGNATURE

    def test_body_altered_after_signing_is_a_bad_signature(self) -> None:
        header = sign(SECRET, BODY, NOW)
        altered = BODY.replace(b'"rows":3', b'"rows":4')

        assert verify(SECRET, header, altered, NOW).failure == SignatureFailure.BAD_SIGNATURE
        assert verify(SECRET, header, BODY + b" ", NOW).failure == SignatureFailure.BAD_SIGNATURE

    def test_timestamp_changed_after_signing_is_a_bad_signature(self) -> None:
        header = sign(SECRET, BODY, NOW).replace(f"t={NOW}", f"t={NOW + 1}")

        assert verify(SECRET, header, BODY, NOW).failure == SignatureFailure.BAD_SIGNATURE

    def test_timestamp_older_than_five_minutes_is_stale(self) -> None:
        assert verify(SECRET, sign(SECRET, BODY, NOW - 300), BODY, NOW)
        check = verify(SECRET, sign(SECRET, BODY, NOW - 301), BODY, NOW)

        assert check.failure == SignatureFailure.STALE
        assert "301 s old" in check.detail

    def test_far_future_timestamp_is_refused_small_skew_is_not(self) -> None:
        assert verify(SECRET, sign(SECRET, BODY, NOW + 60), BODY, NOW)
        assert verify(SECRET, sign(SECRET, BODY, NOW + 61), BODY, NOW).failure == SignatureFailure.FUTURE

    def test_replay_inside_the_window_verifies_again_because_verification_is_stateless(self) -> None:
        header = sign(SECRET, BODY, NOW)

        # The webhook, not verify(), refuses a second effect (it keeps the first accepted body's digest).
        assert verify(SECRET, header, BODY, NOW + 10)
        assert verify(SECRET, header, BODY, NOW + 20)

    def test_one_matching_v1_among_several_is_enough_and_unknown_parts_are_ignored(self) -> None:
        good = sign(SECRET, BODY, NOW)
        header = f"{good},v1={'0' * 64},v2=future-scheme"

        assert verify(SECRET, header, BODY, NOW)

    def test_malformed_headers_are_refused_as_malformed(self) -> None:
        digest = sign(SECRET, BODY, NOW).split("v1=")[1]
        for header in [
            f"v1={digest}",  # no timestamp
            f"t={NOW}",  # no signature
            f"t={NOW},t={NOW},v1={digest}",  # two timestamps
            f"t=abc,v1={digest}",
            f"t=-5,v1={digest}",
            f"t={NOW},v1={digest[:-1]}",  # short
            f"t={NOW},v1={digest.upper()}",  # not lowercase hex
            f"t={NOW};v1={digest}",
            f"t={NOW},v1={digest},garbage",
            f"t={NOW},v1={digest}," + "x=" * 600,
        ]:
            assert verify(SECRET, header, BODY, NOW).failure == SignatureFailure.MALFORMED, header

    @given(header=st.text(max_size=300), body=st.binary(max_size=200), now=st.integers(0, 2**40))
    def test_any_header_text_gives_a_verdict_and_never_raises(self, header: str, body: bytes, now: int) -> None:
        check = verify(SECRET, header, body, now)

        assert check.failure is not None
        assert check.detail

    @given(
        parts=st.lists(
            st.tuples(st.sampled_from(["t", "v1", "v0", "", " t"]), st.text("0123456789abcdefABX-=, ", max_size=70)),
            max_size=5,
        )
    )
    def test_header_shaped_noise_never_raises_or_passes(self, parts: list[tuple[str, str]]) -> None:
        header = ",".join(f"{key}={value}" for key, value in parts)

        assert not verify(SECRET, header, BODY, NOW)
