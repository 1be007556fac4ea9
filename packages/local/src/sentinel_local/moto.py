"""moto server, standing in for EventBridge and Step Functions (and SQS, to observe EventBridge targets)."""

from __future__ import annotations

import json
import sys
import urllib.request

from sentinel_local._engine import LOOPBACK, Engine, http_status


class MotoEngine(Engine):
    """moto on a loopback port, with Step Functions state machines really executed."""

    name = "moto"
    start_timeout = 60.0

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)]

    def ready(self) -> bool:
        return http_status(self.url + "/moto-api/") == 200

    def after_start(self) -> None:
        # Executions of state machines run for real only when this is switched on.
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback URL
            self.url + "/moto-api/config", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback URL
            pass

    def reset(self) -> None:
        """Forget every resource (between tests that need a clean account)."""
        request = urllib.request.Request(self.url + "/moto-api/reset", data=b"", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback URL
            pass
        self.after_start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"SENTINEL_AWS_ENDPOINT_URL": self.url}
