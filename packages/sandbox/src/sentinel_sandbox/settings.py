"""Settings sections of the three runners, in the shape ``sentinel_config.load_settings`` reads.

A service composes them into its ``Settings`` under the section names ``e2b`` (``SENTINEL_E2B_*``), ``modal``
(``SENTINEL_MODAL_*``) and ``sandbox_local`` (``SENTINEL_SANDBOX_LOCAL_*``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import msgspec
from msgspec import Meta


def _doc(description: str, **constraints: Any) -> Meta:
    return Meta(description=description, **constraints)


def _secret(description: str) -> Meta:
    return Meta(description=description, extra={"secret": True})


ShortTimeout = Annotated[float, _doc("Timeout of one call to the provider, seconds", gt=0, le=120)]


class E2BSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The E2B code interpreter (``SENTINEL_E2B_*``). Configured when ``api_key`` is set or ``debug`` is on."""

    api_key: Annotated[str, _secret("E2B API key; empty = E2B not configured")] = ""
    domain: Annotated[str, _doc("E2B domain; empty = the SDK's default")] = ""
    template: Annotated[str, _doc("Sandbox template (needs the code interpreter)")] = "code-interpreter-v1"
    debug: Annotated[bool, _doc("Debug mode: no E2B API, code runs on a local /execute server (not isolated)")] = False
    sandbox_url: Annotated[str, _doc("Debug mode only: the /execute server's base URL; empty = localhost:49999")] = ""
    request_timeout_s: ShortTimeout = 10.0
    sandbox_grace_s: Annotated[float, _doc("Sandbox lifetime beyond the run's wall limit, seconds", ge=5, le=600)] = 30


class ModalSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Modal (``SENTINEL_MODAL_*``). Configured when both tokens are set; the function is deployed from
    ``sentinel_sandbox.modal_app`` with ``modal deploy -m sentinel_sandbox.modal_app``."""

    token_id: Annotated[str, _secret("Modal token id; empty = Modal not configured")] = ""
    token_secret: Annotated[str, _secret("Modal token secret")] = ""
    environment: Annotated[str, _doc("Modal environment; empty = the workspace default")] = ""
    app_name: Annotated[str, _doc("Deployed Modal app holding the script function")] = "sentinel-sandbox"
    function_name: Annotated[str, _doc("Function that runs one script")] = "run_script"
    request_timeout_s: ShortTimeout = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.token_id and self.token_secret)


class LocalSandboxSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The local subprocess runner (``SENTINEL_SANDBOX_LOCAL_*``): NOT isolated, for development only."""

    enabled: Annotated[bool, _doc("Run scripts as local processes: NOT isolated, development only")] = False
    python: Annotated[str, _doc("Interpreter that runs scripts; empty = the service's own")] = ""
    max_concurrent: Annotated[int, _doc("Scripts running at once; others wait as queued", ge=1, le=64)] = 2

    @property
    def interpreter(self) -> str:
        return self.python or sys.executable
