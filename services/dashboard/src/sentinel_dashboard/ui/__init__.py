"""The built-in dashboard page: ``GET /`` and its committed static assets under ``/ui/``."""

from sentinel_dashboard.ui.routes import SECURITY_HEADERS, ui_handlers

__all__ = ["SECURITY_HEADERS", "ui_handlers"]
