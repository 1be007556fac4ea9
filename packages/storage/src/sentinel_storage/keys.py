"""Object keys: one validation shared by every backend, so a key means the same thing in S3 and on disk.

A key is a ``/``-separated relative path of non-empty segments. Refused: an empty key, a leading ``/`` (absolute),
``\\`` (a Windows separator that would split differently on disk), control characters, empty segments (``a//b``,
a trailing ``/``), and segments starting with a dot (``.``, ``..`` and hidden names, which the local backend keeps
for its own temporary and metadata files). At most 1024 bytes of UTF-8, S3's limit.
"""

from __future__ import annotations

from sentinel_storage.errors import InvalidKey

MAX_KEY_BYTES = 1024


def _problem(key: object, *, prefix: bool) -> str | None:
    if not isinstance(key, str):
        return "must be a string"
    if not key and not prefix:
        return "must not be empty"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"must be at most {MAX_KEY_BYTES} bytes"
    if key.startswith("/"):
        return "must be relative (no leading '/')"
    if "\\" in key:
        return "must not contain a backslash"
    if any(ord(char) < 32 or ord(char) == 127 for char in key):
        return "must not contain control characters"
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid UTF-8"
    segments = key.split("/")
    if prefix and segments and segments[-1] == "":
        segments = segments[:-1]  # a prefix may end with '/'
    for segment in segments:
        if segment == "":
            return "must not contain empty segments ('//')"
        if segment.startswith("."):
            return f"segment {segment!r} must not start with '.' ('..' and hidden names are refused)"
    return None


def check_key(key: str) -> str:
    """``key`` when it is a valid object key; ``InvalidKey`` naming the problem otherwise."""
    problem = _problem(key, prefix=False)
    if problem is not None:
        raise InvalidKey(key, problem)
    return key


def check_prefix(prefix: str) -> str:
    """``prefix`` when it is a valid listing prefix (may be empty or end with ``/``); ``InvalidKey`` otherwise."""
    problem = _problem(prefix, prefix=True)
    if problem is not None:
        raise InvalidKey(prefix, problem)
    return prefix


def is_valid_key(key: str) -> bool:
    """Whether ``key`` passes ``check_key``."""
    return _problem(key, prefix=False) is None


def join_key(*parts: str) -> str:
    """Segments and sub-paths joined with ``/`` and checked as one key."""
    return check_key("/".join(part.strip("/") for part in parts if part))
