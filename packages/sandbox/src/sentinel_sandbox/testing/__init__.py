"""Real local stand-ins for the sandbox providers' clouds, for tests and development. None of them isolates code.

- ``ExecuteServer``: E2B's ``/execute`` NDJSON endpoint, which ``e2b-code-interpreter`` calls in debug mode
  (``python -m sentinel_sandbox.testing`` serves it on 127.0.0.1:49999, the SDK's debug address).
- ``LocalModalRemote``: the Modal adapter's remote side, running the deployed function's body locally.
- ``CallbackRecorder``: a webhook receiver that verifies ``X-Sentinel-Signature`` and records each callback.
- ``wait_until_final``: poll a runner until a run has ended.
"""

from sentinel_sandbox.testing.callback_recorder import CallbackRecorder, RecordedCallback
from sentinel_sandbox.testing.execute_server import DEFAULT_PORT, ExecuteServer
from sentinel_sandbox.testing.modal_fake import LocalModalRemote
from sentinel_sandbox.testing.polling import wait_until_final

__all__ = [
    "DEFAULT_PORT",
    "CallbackRecorder",
    "ExecuteServer",
    "LocalModalRemote",
    "RecordedCallback",
    "wait_until_final",
]
