"""``sentinel-worker``: run one worker process until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal

import redis.asyncio as redis
import structlog

from sentinel_config import configure_logging
from sentinel_worker.health import HealthServer
from sentinel_worker.settings import Settings, get_settings

log = structlog.get_logger("sentinel.worker")


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Serve health and metrics and hold the queue connection until ``stop`` is set."""
    client = redis.Redis.from_url(settings.redis.url, socket_timeout=settings.redis.socket_timeout_s)
    health = HealthServer(settings.worker.host, settings.worker.port, counters=dict)
    port = await health.start()
    log.info("worker_started", health_port=port, partitions=settings.redis.partitions)
    try:
        while not stop.is_set():
            try:
                await client.ping()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("queue_unreachable", error=str(exc))
            try:
                await asyncio.wait_for(stop.wait(), timeout=5)
            except TimeoutError:
                continue
    finally:
        await health.stop()
        await client.aclose()
        log.info("worker_stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sentinel-worker", description="Run a Sentinel worker process.")
    parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log, service="worker")

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run(settings, stop)

    asyncio.run(_main())


if __name__ == "__main__":
    main()
