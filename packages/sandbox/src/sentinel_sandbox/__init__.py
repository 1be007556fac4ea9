"""Sentinel's sandbox runners and the signed callback protocol.

The runners live in their own modules so that each imports only its provider's SDK:
``sentinel_sandbox.e2b_runner.E2BRunner``, ``sentinel_sandbox.modal_runner.ModalRunner`` and
``sentinel_sandbox.local_runner.LocalRunner`` (not isolated, off unless enabled). This module holds what they
share: the ``SandboxRunner`` interface, the run and status types, and callback signing.
"""

from sentinel_sandbox.runner import SandboxRunner
from sentinel_sandbox.settings import E2BSettings, LocalSandboxSettings, ModalSettings
from sentinel_sandbox.signing import SIGNATURE_HEADER, SignatureCheck, SignatureFailure, job_secret, sign, verify
from sentinel_sandbox.types import (
    CALLBACK_URL_VAR,
    DATA_URL_VAR,
    JOB_ID_VAR,
    JOB_SECRET_VAR,
    HealthState,
    ProviderHealth,
    SandboxDisabled,
    SandboxError,
    SandboxHandle,
    SandboxLimits,
    SandboxRun,
    SandboxState,
    SandboxStatus,
    SandboxUnavailable,
    SandboxUsage,
    script_env,
)

__all__ = [
    "CALLBACK_URL_VAR",
    "DATA_URL_VAR",
    "JOB_ID_VAR",
    "JOB_SECRET_VAR",
    "SIGNATURE_HEADER",
    "E2BSettings",
    "HealthState",
    "LocalSandboxSettings",
    "ModalSettings",
    "ProviderHealth",
    "SandboxDisabled",
    "SandboxError",
    "SandboxHandle",
    "SandboxLimits",
    "SandboxRun",
    "SandboxRunner",
    "SandboxState",
    "SandboxStatus",
    "SandboxUnavailable",
    "SandboxUsage",
    "SignatureCheck",
    "SignatureFailure",
    "job_secret",
    "script_env",
    "sign",
    "verify",
]
