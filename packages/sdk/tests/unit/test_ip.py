"""Client IP resolution through trusted proxies, header parsing and anonymisation."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel_sdk._ip import IpResolver, parse_forwarded, parse_x_forwarded_for

pytestmark = pytest.mark.unit

KEY = b"0123456789abcdef0123"


class TestWithoutTrustedProxies:
    def test_the_peer_address_is_the_client(self) -> None:
        assert IpResolver(None).resolve("203.0.113.7", None) == "203.0.113.7"

    def test_a_spoofed_x_forwarded_for_is_ignored(self) -> None:
        assert IpResolver(None).resolve("203.0.113.7", "1.2.3.4") == "203.0.113.7"


class TestHopCount:
    def test_one_proxy_takes_the_right_most_entry(self) -> None:
        assert IpResolver(1).resolve("10.0.0.2", "198.51.100.9") == "198.51.100.9"

    def test_spoofed_left_most_entries_are_never_used(self) -> None:
        # The client sent "X-Forwarded-For: 1.2.3.4"; the load balancer appended the address it saw.
        assert IpResolver(1).resolve("10.0.0.2", "1.2.3.4, 198.51.100.9") == "198.51.100.9"

    def test_two_proxies_skip_the_inner_one(self) -> None:
        assert IpResolver(2).resolve("10.0.0.2", "6.6.6.6, 198.51.100.9, 10.0.0.1") == "198.51.100.9"

    def test_a_shorter_chain_uses_its_left_most_entry_written_by_a_trusted_proxy(self) -> None:
        assert IpResolver(3).resolve("10.0.0.2", "198.51.100.9") == "198.51.100.9"

    def test_without_the_header_the_peer_is_used(self) -> None:
        assert IpResolver(1).resolve("203.0.113.7", None) == "203.0.113.7"

    @pytest.mark.parametrize("written", ["unknown", "not-an-ip", "<script>", "_hidden"])
    def test_what_a_proxy_wrote_that_is_not_an_address_gives_none(self, written: str) -> None:
        assert IpResolver(1).resolve("10.0.0.2", f"1.2.3.4, {written}") is None
        assert IpResolver(1, anonymize="truncate").resolve("10.0.0.2", f"1.2.3.4, {written}") is None


class TestTrustedNetworks:
    def resolver(self) -> IpResolver:
        return IpResolver(("10.0.0.0/8", "2001:db8::/32"))

    def test_trusted_proxies_are_skipped_right_to_left(self) -> None:
        assert self.resolver().resolve("10.0.0.2", "6.6.6.6, 198.51.100.9, 10.1.1.1") == "198.51.100.9"

    def test_a_header_from_an_untrusted_peer_is_ignored(self) -> None:
        assert self.resolver().resolve("203.0.113.7", "1.2.3.4") == "203.0.113.7"

    def test_when_every_hop_is_trusted_the_left_most_is_the_client(self) -> None:
        assert self.resolver().resolve("10.0.0.2", "10.9.9.9, 10.1.1.1") == "10.9.9.9"

    def test_ipv6_proxies_and_ports_are_understood(self) -> None:
        assert self.resolver().resolve("2001:db8::1", "198.51.100.9:4711, [2001:db8::2]:443") == "198.51.100.9"

    def test_garbage_written_behind_a_trusted_proxy_gives_no_address(self) -> None:
        assert self.resolver().resolve("10.0.0.2", "unknown") is None


class TestForwardedHeader:
    def test_for_values_are_parsed_with_quotes_ipv6_and_ports(self) -> None:
        value = 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711", for=unknown'
        assert parse_forwarded(value) == ["192.0.2.60", "2001:db8:cafe::17", "unknown"]

    def test_commas_and_semicolons_inside_quotes_do_not_split(self) -> None:
        assert parse_forwarded('for="198.51.100.9";note="a,b;c", for=10.0.0.1') == ["198.51.100.9", "10.0.0.1"]

    def test_the_resolver_reads_forwarded_only_when_configured(self) -> None:
        forwarded = IpResolver(1, proxy_header="forwarded")
        assert forwarded.resolve("10.0.0.2", "for=6.6.6.6, for=198.51.100.9") == "198.51.100.9"

    def test_x_forwarded_for_entries_lose_their_ports(self) -> None:
        assert parse_x_forwarded_for(" 198.51.100.9:80 ,[2001:db8::1]:443,") == ["198.51.100.9", "2001:db8::1"]


class TestAnonymisation:
    def test_ipv4_is_truncated_to_a_24(self) -> None:
        assert IpResolver(None, anonymize="truncate").resolve("203.0.113.77", None) == "203.0.113.0"

    def test_ipv6_is_truncated_to_a_48(self) -> None:
        assert IpResolver(None, anonymize="truncate").resolve("2001:db8:1234:5678::1", None) == "2001:db8:1234::"

    def test_hashing_is_keyed_and_stable(self) -> None:
        resolver = IpResolver(None, anonymize="hash", hash_key=KEY)
        expected = hmac.new(KEY, b"203.0.113.77", hashlib.sha256).hexdigest()[:32]
        assert resolver.resolve("203.0.113.77", None) == expected
        assert resolver.resolve("203.0.113.78", None) != expected

    def test_a_peer_that_is_not_an_address_is_not_sent_when_truncating(self) -> None:
        assert IpResolver(None, anonymize="truncate").resolve("unix:/run/app.sock", None) is None

    def test_anonymisation_applies_to_the_resolved_client(self) -> None:
        resolver = IpResolver(1, anonymize="truncate")
        assert resolver.resolve("10.0.0.2", "198.51.100.9") == "198.51.100.0"


@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=40)))
def test_resolution_never_raises(header: str, peer: str | None) -> None:
    for resolver in (IpResolver(2), IpResolver(("10.0.0.0/8",)), IpResolver(1, "forwarded", "truncate")):
        result = resolver.resolve(peer, header)
        assert result is None or isinstance(result, str)
