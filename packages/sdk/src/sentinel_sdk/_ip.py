"""Client IP: the TCP peer, or resolved through trusted proxies; optionally anonymised.

Proxy headers are read right to left. Each trusted proxy appends the address it saw, so the right-most entries
are trustworthy and the left-most ones are whatever the client chose to send: they are never used unless every
address to their right is a trusted proxy. Only the configured header is read (``X-Forwarded-For`` or RFC 7239
``Forwarded``), so a client cannot switch the SDK to a header the proxies do not overwrite.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache

from sentinel_sdk._options import IpAnonymization, ProxyHeader
from sentinel_types import limits

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_x_forwarded_for(value: str) -> list[str]:
    """Addresses of an ``X-Forwarded-For`` value, left to right (repeated headers already joined by commas)."""
    return [_strip_port(item.strip()) for item in value.split(",") if item.strip()]


def parse_forwarded(value: str) -> list[str]:
    """The ``for=`` addresses of an RFC 7239 ``Forwarded`` value, left to right; ``""`` where an element has none."""
    addresses = []
    for element in _split_outside_quotes(value, ","):
        address = ""
        for pair in _split_outside_quotes(element, ";"):
            key, _, raw = pair.strip().partition("=")
            if key.strip().lower() == "for":
                address = _strip_port(raw.strip().strip('"'))
        addresses.append(address)
    return addresses


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    if '"' not in text:
        return text.split(separator)
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _strip_port(address: str) -> str:
    if address.startswith("["):  # [v6] or [v6]:port
        return address[1 : address.find("]")] if "]" in address else address
    if address.count(":") == 1:  # v4:port
        return address.split(":", 1)[0]
    return address


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


class IpResolver:
    """Turns the peer address and the proxy header of a request into the ``client_ip`` of its event."""

    def __init__(
        self,
        trusted_proxies: int | tuple[str, ...] | None,
        proxy_header: ProxyHeader = "x-forwarded-for",
        anonymize: IpAnonymization = "none",
        hash_key: bytes | None = None,
    ) -> None:
        self._hops = trusted_proxies if isinstance(trusted_proxies, int) else 0
        cidrs = trusted_proxies if isinstance(trusted_proxies, tuple) else ()
        self._networks: tuple[_Network, ...] = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)
        self._parse_header = parse_forwarded if proxy_header == "forwarded" else parse_x_forwarded_for
        self._anonymize = anonymize
        self._hash_key = hash_key or b""
        self.resolve = lru_cache(maxsize=2048)(self._resolve)
        self.passthrough = not self.reads_proxy_header and anonymize == "none"
        """True when the client IP is simply the peer address (no proxies, no anonymisation)."""

    @property
    def reads_proxy_header(self) -> bool:
        """True when the request path must keep the proxy header for this resolver."""
        return bool(self._hops or self._networks)

    def _resolve(self, peer: str | None, header: str | None) -> str | None:
        address = self._client(peer, header)
        if address is None:
            return None
        if self._anonymize == "truncate":
            return _truncate(address)
        if self._anonymize == "hash":
            digest = hmac.new(self._hash_key, address.encode(), hashlib.sha256).hexdigest()
            return digest[:32]
        return address[: limits.MAX_CLIENT_IP_LENGTH]

    def _client(self, peer: str | None, header: str | None) -> str | None:
        if not header or not (self._hops or self._networks):
            return peer
        chain = self._parse_header(header)
        if self._hops:
            # The peer is the nearest of `hops` proxies, each of which appended one entry: the client is the
            # entry `hops` from the right. A shorter chain means the request entered behind the outer proxies,
            # and its left-most entry was still written by a trusted proxy.
            if not chain:
                return peer
            address = chain[max(0, len(chain) - self._hops)]
            # A trusted proxy wrote something that is not an address ("unknown", "_hidden"): no client IP.
            return address if address and _parse(address) is not None else None
        if peer is None or not self._trusted(peer):
            return peer  # the header came from an untrusted peer: it may be forged
        for address in reversed(chain):
            if not address or _parse(address) is None:
                return None  # a trusted proxy wrote something that is not an address ("unknown", "_hidden")
            if not self._trusted(address):
                return address
        return chain[0] if chain else peer

    def _trusted(self, address: str) -> bool:
        parsed = _parse(address)
        return parsed is not None and any(parsed in network for network in self._networks)


def _truncate(address: str) -> str | None:
    parsed = _parse(address)
    if parsed is None:
        return None  # not an address (a server's odd peer value): nothing that could be truncated is sent
    prefix = 24 if parsed.version == 4 else 48
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False).network_address)
