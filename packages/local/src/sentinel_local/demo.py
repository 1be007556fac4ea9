"""``make demo``: a small FastAPI shop instrumented with the SDK, and a traffic generator, against ``make dev``.

The app reads the dev stack's ingest URL and demo ingest key from ``.sentinel/dev.json`` and serves on loopback.
Several clients (the consumers) call it concurrently: list and detail routes with path parameters, a search that
is sometimes slow, a checkout that sometimes fails with 500, 404s for unknown ids, 401s without a key, 422s on
bad input. Progress is printed every two seconds; Ctrl-C stops the traffic, flushes the SDK and exits.

FastAPI is a development dependency only: nothing here is imported by a service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sentinel_local._paths import state_dir
from sentinel_local._process import free_port
from sentinel_local.seed import wait_healthy

DEMO_PORT = 8310

#: (consumer id, display name, plan, share of the traffic)
CONSUMERS = (
    ("acme", "Acme Inc.", "enterprise", 0.35),
    ("globex", "Globex", "enterprise", 0.25),
    ("initech", "Initech", "pro", 0.2),
    ("umbrella", "Umbrella Corp.", "pro", 0.12),
    ("hooli", "Hooli", "free", 0.08),
)


def load_dev_json(root: Path | None = None) -> dict[str, Any]:
    """The dev stack's ``dev.json``; a clear ``SystemExit`` when ``make dev`` has not written it yet."""
    path = (root or state_dir()) / "dev.json"
    if not path.exists():
        raise SystemExit(f"{path} does not exist: start the stack with `make dev` in another terminal first")
    info: dict[str, Any] = json.loads(path.read_text())
    missing = [name for name in ("ingest_url", "ingest_key", "dashboard_url") if not info.get(name)]
    if missing:
        raise SystemExit(f"{path} lacks {', '.join(missing)}: wait until `make dev` prints the demo credentials")
    return info


def create_demo_app(ingest_url: str, ingest_key: str, *, flush_interval: float = 1.0) -> Any:
    """The instrumented FastAPI app; ``app.state.sentinel`` is its SDK client (shut it down to flush)."""
    try:
        from fastapi import Depends, FastAPI, Header, HTTPException, Query
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "the demo needs FastAPI: run `uv sync --all-packages` (it is a development dependency)"
        ) from exc
    from sentinel_sdk import Client, set_consumer
    from sentinel_sdk.starlette import SentinelMiddleware

    client = Client(
        api_key=ingest_key,
        endpoint=ingest_url,
        service="demo-shop",
        environment="development",
        flush_interval=flush_interval,
        capture_headers=["user-agent", "content-type", "x-request-id"],
        capture_bodies=True,
        exclude_paths=[r"/healthz"],
    )
    names = {consumer_id: (name, group) for consumer_id, name, group, _ in CONSUMERS}
    calls: Counter[str] = Counter()  # failures come at a steady rate, so a short run shows some of each kind

    def customer(x_api_key: str | None = Header(default=None)) -> str:
        consumer_id = (x_api_key or "").removeprefix("demo_")
        if consumer_id not in names:
            raise HTTPException(401, "unknown API key")
        name, group = names[consumer_id]
        set_consumer(consumer_id, name=name, group=group)
        return consumer_id

    app = FastAPI(title="Sentinel demo shop")
    app.add_middleware(cast(Any, SentinelMiddleware), client=client)
    app.state.sentinel = client

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/products")
    async def list_products(who: str = Depends(customer), limit: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
        await asyncio.sleep(random.uniform(0.002, 0.015))  # noqa: S311 - simulated latency
        return {"items": [{"id": i, "name": f"Product {i}"} for i in range(limit)]}

    @app.get("/products/{product_id}")
    async def get_product(product_id: int, who: str = Depends(customer)) -> dict[str, Any]:
        await asyncio.sleep(random.uniform(0.001, 0.01))  # noqa: S311
        if product_id > 900:
            raise HTTPException(404, f"no product {product_id}")
        return {"id": product_id, "name": f"Product {product_id}", "price": round(product_id * 1.37, 2)}

    @app.get("/search")
    async def search(q: str = Query(min_length=2), who: str = Depends(customer)) -> dict[str, Any]:
        # One search in ten misses the cache and is slow.
        slow = random.random() < 0.1  # noqa: S311
        await asyncio.sleep(random.uniform(0.25, 0.8) if slow else random.uniform(0.01, 0.05))  # noqa: S311
        return {"query": q, "hits": random.randint(0, 40)}  # noqa: S311

    @app.post("/orders", status_code=201)
    async def create_order(order: dict[str, Any], who: str = Depends(customer)) -> dict[str, Any]:
        await asyncio.sleep(random.uniform(0.02, 0.08))  # noqa: S311
        if not order.get("items"):
            raise HTTPException(422, "an order needs items")
        calls["orders"] += 1
        if calls["orders"] % 20 == 3:  # the payment provider is flaky: one order in 20 fails, from the third on
            raise RuntimeError("payment provider timed out")
        return {"id": random.randint(1000, 9999), "items": order["items"], "status": "created"}  # noqa: S311

    @app.get("/orders/{order_id}")
    async def get_order(order_id: int, who: str = Depends(customer)) -> dict[str, Any]:
        await asyncio.sleep(random.uniform(0.003, 0.02))  # noqa: S311
        return {"id": order_id, "status": random.choice(["created", "paid", "shipped"])}  # noqa: S311

    @app.get("/reports/{report_id}")
    async def get_report(report_id: str, who: str = Depends(customer)) -> dict[str, Any]:
        await asyncio.sleep(random.uniform(0.4, 1.2))  # noqa: S311 - reports are slow
        calls["reports"] += 1
        if calls["reports"] % 7 == 2:  # one report in seven finds the engine busy, from the second on
            raise HTTPException(503, "report engine busy, retry later")
        return {"id": report_id, "rows": random.randint(10, 500)}  # noqa: S311

    return app


@dataclass
class Traffic:
    """What the generator sent so far."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + self.errors


def _pick_call(rng: random.Random) -> tuple[str, str, dict[str, Any] | None]:
    """(method, path, JSON body) of one call, weighted like real traffic."""
    roll = rng.random()
    if roll < 0.3:
        return "GET", f"/products?limit={rng.choice([10, 20, 50])}", None
    if roll < 0.55:
        return "GET", f"/products/{rng.choice([rng.randint(1, 300), rng.randint(1, 300), 999])}", None
    if roll < 0.7:
        return "GET", f"/search?q={rng.choice(['shoes', 'lamp', 'desk', 'chair', 'mug'])}", None
    if roll < 0.82:
        items = [] if rng.random() < 0.08 else [{"sku": rng.randint(1, 300), "qty": rng.randint(1, 3)}]
        return "POST", "/orders", {"items": items}
    if roll < 0.94:
        return "GET", f"/orders/{rng.randint(1000, 9999)}", None
    return "GET", f"/reports/{rng.choice(['daily', 'weekly', 'monthly'])}", None


async def _caller(base_url: str, traffic: Traffic, stop: asyncio.Event, seed: int) -> None:
    import httpx

    rng = random.Random(seed)  # noqa: S311 - simulated traffic
    consumers = [c[0] for c in CONSUMERS]
    weights = [c[3] for c in CONSUMERS]
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while not stop.is_set():
            method, path, body = _pick_call(rng)
            headers = {"User-Agent": "sentinel-demo/1.0"}
            if rng.random() > 0.03:  # a few calls forget their key: 401
                headers["X-API-Key"] = "demo_" + rng.choices(consumers, weights)[0]
            try:
                response = await http.request(method, path, json=body, headers=headers)
                traffic.statuses[response.status_code] += 1
            except httpx.HTTPError:
                traffic.errors += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=rng.uniform(0.02, 0.15))


def _summary(traffic: Traffic, started: float) -> str:
    by_class = Counter(f"{status // 100}xx" for status in traffic.statuses.elements())
    rate = traffic.total / max(time.monotonic() - started, 1e-6)
    parts = ", ".join(f"{name} {by_class[name]}" for name in ("2xx", "4xx", "5xx") if by_class[name])
    return f"{traffic.total} requests ({parts or 'none yet'}), {rate:.0f}/s"


async def run_traffic(base_url: str, stop: asyncio.Event, *, callers: int = 6, report_every: float = 2.0) -> Traffic:
    """Call the demo app from ``callers`` concurrent clients until ``stop`` is set, printing progress."""
    traffic = Traffic()
    started = time.monotonic()
    tasks = [asyncio.create_task(_caller(base_url, traffic, stop, seed)) for seed in range(callers)]
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=report_every)
        except TimeoutError:
            print(f"demo | {_summary(traffic, started)}", flush=True)
    await asyncio.gather(*tasks)
    print(f"demo | done: {_summary(traffic, started)}", flush=True)
    return traffic


def run_demo(root: Path | None = None, *, port: int | None = None, duration: float | None = None) -> int:
    """Serve the demo app and call it until Ctrl-C (or ``duration`` seconds). Returns the exit status."""
    import uvicorn

    info = load_dev_json(root)
    try:
        wait_healthy(info["ingest_url"], timeout=5)
    except RuntimeError:
        print(f"demo | the ingest API at {info['ingest_url']} does not answer: is `make dev` running?", file=sys.stderr)
        return 1
    if port is None:
        port = DEMO_PORT if _free(DEMO_PORT) else free_port()
    elif port == 0:
        port = free_port()
    app = create_demo_app(info["ingest_url"], info["ingest_key"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off"))
    # In a thread, uvicorn leaves the signals alone: Ctrl-C reaches the traffic loop below.
    thread = threading.Thread(target=server.run, name="demo-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            print(f"demo | the demo app could not start on port {port}", file=sys.stderr)
            return 1
        time.sleep(0.05)
    base_url = f"http://127.0.0.1:{port}"
    print(f"demo | shop app at {base_url}, sending events to {info['ingest_url']}", flush=True)
    print(f"demo | open the dashboard at {info['dashboard_url']}/ and sign in with the token in dev.json", flush=True)
    print("demo | press Ctrl-C to stop", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        await run_traffic(base_url, stop)

    try:
        asyncio.run(main())
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        flushed = app.state.sentinel.shutdown(timeout=5)
        print("demo | " + ("every event sent" if flushed else "some events could not be sent in time"), flush=True)
    return 0


def _free(port: int) -> bool:
    from sentinel_local._process import port_is_open

    return not port_is_open(port)
