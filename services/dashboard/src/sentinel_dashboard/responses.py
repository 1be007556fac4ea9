"""The error answers each route declares in OpenAPI; every one has an ``ErrorResponse`` JSON body."""

from __future__ import annotations

from litestar.openapi import ResponseSpec

from sentinel_types import ErrorResponse

_WHY = {
    400: "A parameter or the body is invalid; `field` names it",
    401: "Missing, unknown, revoked or expired credentials",
    403: "The token lacks the scope, X-Tenant-ID names another tenant, or the signature is refused",
    404: "Nothing of that id in the caller's tenant",
    409: "In conflict with the current state, or a limit is reached",
    413: "The body or one of its fields is too large",
    415: "The body is declared in a Content-Type other than JSON",
    422: "The body is well formed but its content is refused",
    429: "Too many at once: see Retry-After",
    503: "A store or service this route needs does not answer; try again",
    504: "The analytics query took longer than its time limit",
}

JSON_BODY = (413, 415)
"""The answers of a route that reads a JSON body, besides 400: too large, or declared as something else."""


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """``responses=`` of a route that answers ``statuses`` (and 400) with an ``ErrorResponse``."""
    return {
        status: ResponseSpec(ErrorResponse, description=_WHY[status], generate_examples=False)
        for status in sorted({400, *statuses})
    }


def authed(*statuses: int) -> dict[int, ResponseSpec]:
    """``errors`` of a route behind a dashboard token (401, 403, and 503 when the control store is down)."""
    return errors(401, 403, 503, *statuses)
