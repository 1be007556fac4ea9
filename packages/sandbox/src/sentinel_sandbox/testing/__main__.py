"""``python -m sentinel_sandbox.testing [--port 49999]``: serve the local ``/execute`` server until Ctrl-C.

With it running, ``E2BSettings(debug=True)`` (``SENTINEL_E2B_DEBUG=true``) runs scripts through the real E2B SDK
on this machine. NOT isolated: development only.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from sentinel_sandbox.testing.execute_server import DEFAULT_PORT, ExecuteServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentinel_sandbox.testing", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        server = ExecuteServer(args.port).start()
    except OSError as exc:
        print(f"sentinel-sandbox: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"/execute server on {server.url} (not isolated); Ctrl-C stops it", flush=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
