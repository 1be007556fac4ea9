"""Route templates in one style for every framework: ``/users/{user_id}``."""

from __future__ import annotations

import re
from collections.abc import Callable

_BRACE_CONVERTOR = re.compile(r"\{([^{}:]+):[^{}]*\}")
_ANGLE_PARAMETER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
_NAMED_GROUP = re.compile(r"\(\?P<([^>]+)>(?:[^()]|\([^()]*\))*\)")


def from_braces(template: str) -> str:
    """Drop type convertors: ``/users/{user_id:int}`` becomes ``/users/{user_id}`` (Starlette, Litestar)."""
    return _BRACE_CONVERTOR.sub(r"{\1}", template) if ":" in template else template


def from_angles(rule: str) -> str:
    """Flask and Django ``path()`` parameters: ``/users/<int:user_id>`` becomes ``/users/{user_id}``."""
    return _ANGLE_PARAMETER.sub(r"{\1}", rule) if "<" in rule else rule


def from_django(route: str, is_regex: bool = False) -> str:
    """A Django resolver route (``users/<int:pk>/`` or ``^articles/(?P<year>[0-9]{4})/$``) as ``/users/{pk}/``."""
    if is_regex or route.startswith("^") or "(?P<" in route:
        route = _NAMED_GROUP.sub(r"{\1}", route).replace("^", "").replace("$", "").replace("\\", "")
    else:
        route = from_angles(route)
    return route if route.startswith("/") else f"/{route}"


class Templates:
    """Route templates memoised by what the framework reports (a few hundred routes at most, bounded anyway)."""

    def __init__(self, convert: Callable[[str], str], size: int = 4_096) -> None:
        self._convert = convert
        self._size = size
        self.known: dict[str, str] = {}
        """Raw route -> template, for callers on the request path that look up before calling."""

    def __call__(self, raw: str) -> str:
        template = self.known.get(raw)
        if template is None:
            template = self._convert(raw)
            if len(self.known) < self._size:
                self.known[raw] = template
        return template
