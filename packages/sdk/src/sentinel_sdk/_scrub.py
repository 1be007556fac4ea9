"""Value-based scrubbing: secrets and personal data found by their shape, wherever they appear.

Applied to paths, query values, captured header values and captured bodies. Each kind is replaced by a marker
that keeps the rest of the text readable: ``/users/[EMAIL]/cards/[CARD]``.

Every quantifier is bounded or anchored at the start of a run, so a 16 KB body scans in linear time.
"""

from __future__ import annotations

import re
from functools import lru_cache

EMAIL_MARK = "[EMAIL]"
CARD_MARK = "[CARD]"
JWT_MARK = "[JWT]"
CREDENTIAL_MARK = "[TOKEN]"
API_KEY_MARK = "[API_KEY]"

_KEY_PREFIXES = (
    r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,200}",  # Stripe
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,200}",  # OpenAI, Anthropic
    r"gh[pousr]_[A-Za-z0-9]{30,200}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{30,200}",
    r"glpat-[A-Za-z0-9_-]{20,200}",  # GitLab
    r"xox[abprs]-[A-Za-z0-9-]{10,200}",  # Slack
    r"AKIA[0-9A-Z]{16}",  # AWS access key id
    r"AIza[0-9A-Za-z_-]{35}",  # Google API key
)

_LOCAL_PUNCTUATION = re.escape(".!#$%&'*+=?^_`{|}~-")
_LOCAL = f"[A-Za-z0-9{_LOCAL_PUNCTUATION}]"
_LABEL = "[A-Za-z0-9-]{1,63}"

_PATTERN = re.compile(
    # A JWT: base64url JSON header and payload (both start with "eyJ", i.e. '{"'), and a signature.
    r"(?P<jwt>eyJ[A-Za-z0-9_-]{4,4096}\.eyJ[A-Za-z0-9_-]{4,8192}\.[A-Za-z0-9_-]{0,1024})"
    # An Authorization-style credential: "Bearer <token>" or "Basic <base64>".
    r"|(?P<scheme>\b(?:[Bb]earer|BEARER|[Bb]asic|BASIC))[ \t]+(?P<credential>[A-Za-z0-9._~+/-]{8,4096}=*)"
    # An email: RFC 5322 local part characters except "/" (so that "/users/a@b.com" keeps its path).
    rf"|(?P<email>(?<!{_LOCAL})[A-Za-z0-9{_LOCAL_PUNCTUATION}]{{1,64}}@{_LABEL}(?:\.{_LABEL}){{0,30}}\.[A-Za-z][A-Za-z0-9-]{{1,62}})"
    rf"|(?P<key>(?<![A-Za-z0-9_-])(?:{'|'.join(_KEY_PREFIXES)})(?![A-Za-z0-9_-]))"
    # Long mixed-case alphanumeric runs look like generated secrets (checked in _replace).
    r"|(?P<opaque>(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,512}(?![A-Za-z0-9_-]))"
    # 13 to 19 digits, optionally grouped by spaces or dashes (checked with Luhn in _replace).
    r"|(?P<card>(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d]))"
)
_HEX_OR_UUID = re.compile(r"[0-9a-fA-F-]+")
# The shortest text any pattern but the email one matches: a 13-digit card number. Card numbers and keys are
# runs at least that long of these characters; texts without such a run (and without "@", "eyJ" or an
# authorization scheme) skip the full pattern, which costs far more per character than this one.
_SHORTEST_MATCH = 13
_LONG_RUN = re.compile(r"[A-Za-z0-9_ -]{13}")


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn checksum used by payment card numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index & 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    """A 13-19 digit number (spaces and dashes ignored) of a card network range, with a valid Luhn checksum."""
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and digits.isdigit() and digits[0] in "23456" and luhn_valid(digits)


def _looks_generated(token: str) -> bool:
    if _HEX_OR_UUID.fullmatch(token):
        return False  # hashes and UUIDs are identifiers, not secrets
    has_upper = has_lower = has_digit = False
    for char in token:
        if char.isdigit():
            has_digit = True
        elif char.isupper():
            has_upper = True
        elif char.islower():
            has_lower = True
    return has_upper and has_lower and has_digit


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    text = match.group()
    if kind == "jwt":
        return JWT_MARK
    if kind == "credential":
        return f"{match.group('scheme')} {CREDENTIAL_MARK}"
    if kind == "email":
        return EMAIL_MARK
    if kind == "key":
        return API_KEY_MARK
    if kind == "opaque":
        return API_KEY_MARK if _looks_generated(text) else text
    if kind == "card":
        return CARD_MARK if is_card_number(text) else text
    return text


def scrub(text: str) -> str:
    """Replace card numbers, emails, JWTs, bearer/basic credentials and API-key-shaped strings in ``text``."""
    if "@" in text or "eyJ" in text or "earer" in text or "EARER" in text or "asic" in text or "ASIC" in text:
        return _PATTERN.sub(_replace, text)
    if len(text) < _SHORTEST_MATCH or _LONG_RUN.search(text) is None:
        return text  # no email, JWT or credential, and no run long enough for a card number or a key
    return _PATTERN.sub(_replace, text)


@lru_cache(maxsize=4096)
def scrub_path(path: str) -> str:
    """``scrub`` for request paths, segment by segment (none of the patterns spans a "/"), cached."""
    if len(path) < _SHORTEST_MATCH and "@" not in path:
        return path
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if len(segment) >= _SHORTEST_MATCH or "@" in segment:
            segments[index] = _PATTERN.sub(_replace, segment)
    return "/".join(segments)
