"""What Sentinel's HTTP services share: JSON error bodies, health routes and the server runner."""

from sentinel_service.app import create_service_app, redis_client, redis_lifespan, redis_ready
from sentinel_service.errors import ApiError, error_response, exception_handlers, request_id_of
from sentinel_service.health import Check, health_handlers
from sentinel_service.server import serve

__all__ = [
    "ApiError",
    "Check",
    "create_service_app",
    "error_response",
    "exception_handlers",
    "health_handlers",
    "redis_client",
    "redis_lifespan",
    "redis_ready",
    "request_id_of",
    "serve",
]
