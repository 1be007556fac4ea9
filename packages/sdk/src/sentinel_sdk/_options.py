"""Client options: parsed and checked once, when the client is created.

A wrong option raises ``ValueError`` or ``TypeError`` at start-up with one line naming the option; a missing API
key or endpoint only disables capture (with one warning), so an app without Sentinel configured still runs.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from sentinel_types import WireFormat, limits

IpAnonymization = Literal["none", "truncate", "hash"]
ProxyHeader = Literal["x-forwarded-for", "forwarded"]


@dataclass(frozen=True)
class Options:
    """Every client option with its default; see the package README for what each one does."""

    api_key: str | None = None
    endpoint: str | None = None
    service: str = "default"
    environment: str = "production"
    enabled: bool = True
    sample_rate: float = 1.0
    exclude_paths: tuple[str, ...] = ()
    capture_headers: bool | tuple[str, ...] = False
    redact_headers: tuple[str, ...] = ()
    capture_query: bool = True
    redact_query_params: tuple[str, ...] = ()
    capture_bodies: bool = False
    max_body_size: int = 4_096
    redact_body_fields: tuple[str, ...] = ()
    scrub_values: bool = True
    trusted_proxies: int | tuple[str, ...] | None = None
    proxy_header: ProxyHeader = "x-forwarded-for"
    anonymize_ip: IpAnonymization = "none"
    ip_hash_key: bytes | None = None
    buffer_size: int = 10_000
    batch_size: int = limits.MAX_EVENTS_PER_BATCH
    flush_interval: float = 2.0
    wire_format: WireFormat = "msgpack"
    compress: bool = True
    timeout: float = 5.0
    max_retries: int = 5
    retry_budget: float = 60.0
    shutdown_timeout: float = 2.0

    @property
    def active(self) -> bool:
        """True when events are captured and sent: enabled, with an API key and an endpoint."""
        return self.enabled and bool(self.api_key) and bool(self.endpoint)


_DEFAULTS = Options()
_FIELDS = frozenset(Options.__dataclass_fields__)


def parse_options(options: dict[str, Any]) -> Options:
    """Build ``Options`` from keyword arguments; ``api_key`` and ``endpoint`` fall back to the environment."""
    unknown = sorted(set(options) - _FIELDS)
    if unknown:
        raise TypeError(f"sentinel_sdk: unknown option {unknown[0]!r}; valid options are {', '.join(sorted(_FIELDS))}")
    v: dict[str, Any] = {name: getattr(_DEFAULTS, name) for name in _FIELDS}
    v.update(options)
    for name in ("api_key", "endpoint"):
        if v[name] is None:
            v[name] = os.environ.get(f"SENTINEL_{name.upper()}")
    v["api_key"] = _api_key(v["api_key"])
    v["endpoint"] = _endpoint(v["endpoint"])
    v["service"] = _name("service", v["service"], limits.MAX_SERVICE_LENGTH)
    v["environment"] = _name("environment", v["environment"], limits.MAX_ENVIRONMENT_LENGTH)
    for name in ("enabled", "capture_query", "capture_bodies", "scrub_values", "compress"):
        if not isinstance(v[name], bool):
            raise TypeError(f"sentinel_sdk: {name} must be True or False, got {v[name]!r}")
    v["sample_rate"] = _number("sample_rate", v["sample_rate"], 0.0, 1.0, low_open=True)
    for name in ("exclude_paths", "redact_headers", "redact_query_params", "redact_body_fields"):
        v[name] = _patterns(name, v[name])
    v["capture_headers"] = _capture_headers(v["capture_headers"])
    v["max_body_size"] = _integer("max_body_size", v["max_body_size"], 1, limits.MAX_CAPTURED_BODY_LENGTH)
    v["trusted_proxies"] = _trusted_proxies(v["trusted_proxies"])
    _choice("proxy_header", v["proxy_header"], ("x-forwarded-for", "forwarded"))
    _choice("anonymize_ip", v["anonymize_ip"], ("none", "truncate", "hash"))
    _choice("wire_format", v["wire_format"], ("msgpack", "json"))
    if v["ip_hash_key"] is not None:
        v["ip_hash_key"] = _hash_key(v["ip_hash_key"])
    elif v["anonymize_ip"] == "hash":
        raise ValueError("sentinel_sdk: anonymize_ip='hash' needs ip_hash_key (a secret of at least 16 bytes)")
    v["buffer_size"] = _integer("buffer_size", v["buffer_size"], 1, 10_000_000)
    v["batch_size"] = _integer("batch_size", v["batch_size"], 1, limits.MAX_EVENTS_PER_BATCH)
    v["max_retries"] = _integer("max_retries", v["max_retries"], 0, 100)
    v["flush_interval"] = _number("flush_interval", v["flush_interval"], 0.0, 3600.0, low_open=True)
    v["timeout"] = _number("timeout", v["timeout"], 0.0, 600.0, low_open=True)
    v["retry_budget"] = _number("retry_budget", v["retry_budget"], 0.0, 86400.0)
    v["shutdown_timeout"] = _number("shutdown_timeout", v["shutdown_timeout"], 0.0, 600.0)
    return Options(**v)


def _text(name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"sentinel_sdk: {name} must be a string, got {type(value).__name__}")
    return value.strip() or None


def _api_key(value: object) -> str | None:
    text = _text("api_key", value)
    if text is not None and not all("!" <= char <= "~" for char in text):  # it goes into an HTTP header as it is
        raise ValueError("sentinel_sdk: api_key must be printable ASCII without spaces (check how it was copied)")
    return text


def _endpoint(value: object) -> str | None:
    text = _text("endpoint", value)
    if text is None:
        return None
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not all(char.isprintable() and not char.isspace() for char in text)
    ):
        raise ValueError(
            f"sentinel_sdk: endpoint must be an http(s) URL such as https://ingest.example.com, got {text!r}"
        )
    try:
        parts.hostname.encode("idna")
        _ = parts.port  # raises for a port that is not a number in range
    except (UnicodeError, ValueError):
        raise ValueError(f"sentinel_sdk: endpoint has an invalid host or port: {text!r}") from None
    return text.rstrip("/")


def _name(name: str, value: object, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ValueError(f"sentinel_sdk: {name} must be a non-empty string of at most {max_length} characters")
    return value.strip()


def _number(name: str, value: object, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"sentinel_sdk: {name} must be a number, got {value!r}")
    number = float(value)
    if number > high or number < low or (low_open and number == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"sentinel_sdk: {name} must be in {bracket}{low:g}, {high:g}], got {value!r}")
    return number


def _integer(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"sentinel_sdk: {name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"sentinel_sdk: {name} must be between {low} and {high}, got {value}")
    return value


def _strings(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"sentinel_sdk: {name} must be a list of strings, got {value!r}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise TypeError(f"sentinel_sdk: {name} must hold non-empty strings, got {item!r}")
    return items


def _patterns(name: str, value: object) -> tuple[str, ...]:
    patterns = _strings(name, value)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"sentinel_sdk: {name} holds an invalid regular expression {pattern!r}: {exc}") from None
    return patterns


def _capture_headers(value: object) -> bool | tuple[str, ...]:
    if isinstance(value, bool):
        return value
    return tuple(name.strip().lower() for name in _strings("capture_headers", value))


def _trusted_proxies(value: object) -> int | tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return _integer("trusted_proxies", value, 0, 64) or None
    networks = _strings("trusted_proxies", value)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(
                f"sentinel_sdk: trusted_proxies must be a hop count or a list of CIDR ranges; {network!r} is neither"
            ) from None
    return networks


def _choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"sentinel_sdk: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def _hash_key(value: object) -> bytes:
    key = value.encode() if isinstance(value, str) else value
    if not isinstance(key, bytes) or len(key) < 16:
        raise ValueError("sentinel_sdk: ip_hash_key must be a secret string or bytes of at least 16 bytes")
    return key
