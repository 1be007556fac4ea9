"""The Modal app that runs scripts: deploy it with ``modal deploy -m sentinel_sandbox.modal_app``.

``run_script`` takes the request ``sentinel_sandbox.runner.script_request`` builds and returns the outcome
dict of ``sentinel_sandbox._script``: inside Modal's container the script runs exactly as under the local
runner, as a child process with CPU, memory, wall-time and output limits. Modal isolates the container (gVisor);
the per-run limits sit inside it. ``run_script.local(request)`` runs the same body on this machine.
"""

from __future__ import annotations

from typing import Any

import modal

from sentinel_sandbox import _script

APP_NAME = "sentinel-sandbox"
FUNCTION_NAME = "run_script"
#: Longest run the deployed function allows; a run's own ``wall_s`` is enforced inside it.
MAX_RUN_S = 3600

app = modal.App(APP_NAME)
image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install("msgspec>=0.19")
    .add_local_python_source("sentinel_sandbox")
)


@app.function(image=image, timeout=MAX_RUN_S, cpu=1.0, memory=2048, retries=0)
def run_script(request: dict[str, Any]) -> dict[str, Any]:
    """Run one script to its end or first limit and return its outcome; the script never outlives the call."""
    return _script.run(request)
