"""JSON error bodies for every failure: never an HTML page, never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from sentinel_config.logging import REQUEST_ID_HEADER, request_id_from_headers
from sentinel_types import ErrorResponse

_log = structlog.get_logger("sentinel.errors")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An error answered as an ``ErrorResponse``: status, stable code, message and optional field."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        error: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.error = error or _CODES.get(status_code, "error")
        self.field = field
        self.body = body or {}


def request_id_of(request: Request[Any, Any, Any]) -> str:
    """The request's id; requests the router rejects before any middleware (404, 405) get one here."""
    state = request.scope.setdefault("state", {})
    value = state.get("request_id")
    if not isinstance(value, str):
        value = request_id_from_headers(request.scope.get("headers", ()))
        state["request_id"] = value
    return value


def error_response(
    request: Request[Any, Any, Any],
    status: int,
    error: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[ErrorResponse]:
    # Matched routes went through RequestIdMiddleware, which adds the header; router-level errors did not.
    through_middleware = isinstance((request.scope.get("state") or {}).get("request_id"), str)
    request_id = request_id_of(request)
    body = ErrorResponse(status=status, error=error, message=message, field=field, request_id=request_id, **extra)
    if not through_middleware:
        headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[ErrorResponse]:
    return error_response(
        request, exc.status_code, exc.error, exc.detail, field=exc.field, headers=exc.headers, **exc.body
    )


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorResponse]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    field = None
    message = exc.detail
    if extra and isinstance(extra[0], dict):
        first = extra[0]
        key = first.get("key")
        field = key or first.get("source")
        message = f"{first.get('message', exc.detail)}"
        if key == "data" and first.get("source") == "body" and message == repr(key):
            # The framework's text for a body that is absent (a bare KeyError): say so.
            field, message = "body", "the request body is missing: send it as JSON"
    return error_response(request, 400, "invalid_request", message, field=field)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorResponse]:
    if exc.status_code >= 500:
        _log.error("server_error", path=request.url.path, status=exc.status_code, exc_info=exc)
    return error_response(
        request, exc.status_code, _CODES.get(exc.status_code, "error"), exc.detail, headers=exc.headers
    )


def _unhandled(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    _log.error("unhandled_exception", path=request.url.path, exc_info=exc)
    return error_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "the server failed to handle this request; it has been logged with the request id",
    )


def exception_handlers() -> ExceptionHandlersMap:
    """Handlers that turn every exception into an ``ErrorResponse`` JSON body."""
    return {
        ApiError: _api_error,
        ValidationException: _validation_error,
        HTTPException: _http_error,
        Exception: _unhandled,
    }
