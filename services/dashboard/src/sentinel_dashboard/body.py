"""Request bodies: JSON in UTF-8, nested no deeper than the decoder follows, within the route's size limit.

Litestar parses a JSON body whatever its Content-Type, and lets a body the decoder gives up on (a string that is
not UTF-8, arrays nested past the recursion limit) escape as a 500. Here each of those is a 4xx ``ErrorResponse``
naming the header or the body: 415 ``Content-Type``, 400 ``$``, 413 ``body``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.exceptions import SerializationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ExceptionHandlersMap

from sentinel_service import ApiError, error_response
from sentinel_types import ErrorResponse


def json_content_type(request: Request[Any, Any, Any]) -> None:
    """415 when the request declares a Content-Type that is not JSON (none at all is taken as JSON)."""
    declared = request.headers.get("content-type")
    media = (declared or "application/json").split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(
            415,
            f"Content-Type {declared!r} is not supported: send the body as application/json",
            field="Content-Type",
        )


def undecodable(exc: RecursionError | UnicodeDecodeError) -> str:
    """Why the JSON decoder gave up on a body, in words."""
    if isinstance(exc, RecursionError):
        return "the body nests arrays or objects deeper than the decoder follows: send flatter JSON"
    return f"the body holds a string that is not valid UTF-8 ({exc.reason}): send JSON encoded as UTF-8"


class JsonRequest(Request[Any, Any, Any]):
    """The dashboard's request: its JSON body is checked for Content-Type and decoded with 4xx answers only."""

    async def json(self) -> Any:
        json_content_type(self)
        try:
            return await super().json()
        except SerializationException as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc.detail}", error="invalid_json", field="$") from None
        except (RecursionError, UnicodeDecodeError) as exc:
            raise ApiError(400, undecodable(exc), error="invalid_json", field="$") from None


def use_json_request(config: AppConfig) -> AppConfig:
    """``on_app_init`` hook installing ``JsonRequest``."""
    config.request_class = JsonRequest
    return config


def _too_large(request: Request[Any, Any, Any], exc: RequestEntityTooLarge) -> Response[ErrorResponse]:
    limit = request.route_handler.resolve_request_max_body_size()
    return error_response(
        request, 413, "payload_too_large", f"the body is larger than the {limit} bytes this route accepts", field="body"
    )


BODY_ERRORS: ExceptionHandlersMap = {RequestEntityTooLarge: _too_large}
