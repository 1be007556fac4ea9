"""Name-based redaction of headers, query parameters and body fields, and the capture of bodies.

Runs on the sender thread. Names are matched case-insensitively against built-in secret patterns plus the
app's own; matched values become ``[REDACTED]``. Values that survive are then scrubbed by shape (``_scrub``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import msgspec

from sentinel_sdk._capture import RawHeaders
from sentinel_sdk._scrub import CARD_MARK, is_card_number, scrub
from sentinel_types import limits

REDACTED = "[REDACTED]"

ALWAYS_REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
"""Headers whose value is never sent, whatever the allowlist says."""

STRUCTURED_HEADERS = frozenset(
    {
        "accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "age", "cache-control",
        "connection", "content-encoding", "content-language", "content-length", "content-type", "date", "etag",
        "expires", "host", "if-match", "if-modified-since", "if-none-match", "if-unmodified-since", "keep-alive",
        "last-modified", "pragma", "server", "te", "traceparent", "tracestate", "transfer-encoding", "upgrade",
        "vary", "x-correlation-id", "x-forwarded-port", "x-forwarded-proto", "x-request-id",
    }
)  # fmt: skip
"""Standard headers with structured values (media types, dates, ids): sent as they are, without value scrubbing."""

_HEADER_CACHE_SIZE = 4_096

SECRET_NAME_PATTERNS = (
    r"pass(?:word|wd|phrase)?",
    r"pwd",
    r"secret",
    r"token",
    r"api[-_.]?key",
    r"(?:^|[-_.])key$",
    r"^key",
    r"auth(?!or)",
    r"credential",
    r"session",
    r"cookie",
    r"signature",
    r"^sig$",
    r"csrf",
    r"xsrf",
    r"^otp$",
    r"^code$",
    r"^ssn$",
    r"cvv|cvc",
    r"card[-_.]?number",
    r"^iban$",
    r"private",
)
"""Names (of headers, query parameters and JSON fields) whose values are redacted by default."""

_JSON_TYPES = ("application/json", "+json")
_FORM_TYPE = "application/x-www-form-urlencoded"
_json_encoder = msgspec.json.Encoder()
# A "name": value pair inside JSON text that did not parse (a body cut at the size cap).
_JSON_PAIR = re.compile(r'"(?P<name>(?:[^"\\]|\\.){1,256})"(?P<sep>\s*:\s*)(?P<value>"(?:[^"\\]|\\.)*"?|[^,}\]\s]+)')


def name_matcher(extra: Iterable[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for the built-in secret names plus ``extra`` regular expressions."""
    return re.compile("|".join(f"(?:{pattern})" for pattern in (*SECRET_NAME_PATTERNS, *extra)), re.IGNORECASE)


class Redactor:
    """Redacts and scrubs captured data according to the client's options."""

    def __init__(
        self,
        *,
        redact_headers: Iterable[str] = (),
        redact_query_params: Iterable[str] = (),
        redact_body_fields: Iterable[str] = (),
        scrub_values: bool = True,
    ) -> None:
        self._header_names = name_matcher(redact_headers)
        self._query_names = name_matcher(redact_query_params)
        self._body_names = name_matcher(redact_body_fields)
        self._scrub = scrub if scrub_values else _identity
        self._header_cache: dict[str, bool] = {}
        self._header_pairs: dict[tuple[bytes | str, bytes | str], tuple[str, str]] = {}
        self._query_cache: dict[str, bool] = {}

    def headers(self, raw: RawHeaders) -> dict[str, str]:
        """Captured headers as a dict of lower-case names; secrets redacted, values scrubbed, limits applied."""
        result: dict[str, str] = {}
        cache = self._header_pairs
        for raw_name, raw_value in raw:
            # Most headers repeat from request to request (host, accept, user agent): their result is cached.
            pair = (raw_name, raw_value)  # hashable even when the server gave [name, value] lists
            known = cache.get(pair)
            if known is None:
                known = self._header(*pair)
                if known[1] is not REDACTED:  # secrets are not kept, not even in memory
                    if len(cache) >= _HEADER_CACHE_SIZE:
                        cache.clear()
                    cache[pair] = known
            name, value = known
            if not name:
                continue
            if name in result:  # repeated header: join as HTTP does
                value = f"{result[name]}, {value}"[: limits.MAX_HEADER_VALUE_LENGTH]
            elif len(result) >= limits.MAX_HEADERS:
                continue
            result[name] = value
        return result

    def _header(self, raw_name: bytes | str, raw_value: bytes | str) -> tuple[str, str]:
        name = _text(raw_name).lower()[: limits.MAX_HEADER_NAME_LENGTH]
        if self._is_secret_header(name):
            return name, REDACTED
        value = _text(raw_value)
        if name not in STRUCTURED_HEADERS:
            value = self._scrub(value)
        return name, value[: limits.MAX_HEADER_VALUE_LENGTH]

    def _is_secret_header(self, name: str) -> bool:
        secret = self._header_cache.get(name)
        if secret is None:
            secret = name in ALWAYS_REDACTED_HEADERS or self._header_names.search(name) is not None
            if len(self._header_cache) < 1024:
                self._header_cache[name] = secret
        return secret

    def query(self, query: str) -> str:
        """A raw query string with secret-named parameters redacted; every other name and value scrubbed (a
        part without "=" is a name alone: ``?jane@example.com``)."""
        return self._parameters(query, self._is_secret_parameter)

    def _parameters(self, text: str, is_secret: Callable[[str], bool]) -> str:
        parts = text.split("&")
        for index, part in enumerate(parts):
            name, sep, value = part.partition("=")
            if value and is_secret(name):
                parts[index] = f"{self._component(name)}{sep}{REDACTED}"
                continue
            scrubbed_name, scrubbed_value = self._component(name), self._component(value)
            if scrubbed_name is not name or scrubbed_value is not value:
                parts[index] = f"{scrubbed_name}{sep}{scrubbed_value}"
        return "&".join(parts)

    def _component(self, raw: str) -> str:
        """A query or form name or value scrubbed (decoded first, encoded again so that what was decoded cannot
        add parameters); ``raw`` itself when nothing was found."""
        if not raw:
            return raw
        decoded = unquote_plus(raw) if "%" in raw or "+" in raw else raw
        scrubbed = self._scrub(decoded)
        return raw if scrubbed == decoded else quote_plus(scrubbed, safe="[]")

    def _is_secret_parameter(self, raw_name: str) -> bool:
        secret = self._query_cache.get(raw_name)
        if secret is None:
            secret = self._query_names.search(unquote_plus(raw_name)) is not None
            if len(self._query_cache) < 1024:
                self._query_cache[raw_name] = secret
        return secret

    def body(self, raw: bytes | bytearray, content_type: str, truncated: bool) -> str:
        """A captured body as text: JSON fields and form fields redacted by name (``redact_body_fields`` and the
        built-in names), everything else scrubbed, names included."""
        text = bytes(raw).decode("utf-8", "replace")
        media = content_type.split(";", 1)[0].strip().lower()
        if media.endswith(_JSON_TYPES):
            if not truncated:
                try:
                    redacted = self._json(msgspec.json.decode(text))
                    return _json_encoder.encode(redacted).decode()[: limits.MAX_CAPTURED_BODY_LENGTH]
                except (msgspec.DecodeError, RecursionError):
                    pass  # not valid JSON, or nested too deep: redact what looks like fields below
            text = _JSON_PAIR.sub(self._json_pair, text)
        elif media == _FORM_TYPE:
            return self._parameters(text, self._is_secret_field)[: limits.MAX_CAPTURED_BODY_LENGTH]
        return self._scrub(text)[: limits.MAX_CAPTURED_BODY_LENGTH]

    def _is_secret_field(self, raw_name: str) -> bool:
        return self._body_names.search(unquote_plus(raw_name)) is not None

    def _json(self, value: Any) -> Any:
        if isinstance(value, dict):  # names are redaction keys and scrubbed too (``{"jane@example.com": ...}``)
            result: dict[str, Any] = {}
            for key, item in value.items():
                name = base = self._scrub(key)
                suffix = 2
                while name in result:  # two names scrubbed alike (two emails, say): both kept
                    name, suffix = f"{base}#{suffix}", suffix + 1
                result[name] = REDACTED if self._body_names.search(key) else self._json(item)
            return result
        if isinstance(value, list):
            return [self._json(item) for item in value]
        if isinstance(value, str):
            return self._scrub(value)
        if isinstance(value, int) and not isinstance(value, bool) and is_card_number(str(value)):
            return CARD_MARK
        return value

    def _json_pair(self, match: re.Match[str]) -> str:
        if self._body_names.search(match.group("name")):
            return f'"{match.group("name")}"{match.group("sep")}"{REDACTED}"'
        return match.group()


def is_text_body(content_type: str | None) -> bool:
    """True for the content types whose bodies may be captured: JSON, text and URL-encoded forms."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media.endswith(_JSON_TYPES) or media == _FORM_TYPE


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _identity(text: str) -> str:
    return text
