"""The dashboard page in a real browser (Debian chromium driven by Playwright) against a running dev stack.

A fixture runs ``sentinel-local dev`` (what ``make dev`` runs) on free ports, sends a known set of
requests through the real ingest API, and waits until the worker has stored them. The tests then sign in like a
user and read the figures off the page. Screenshots go to ``test-artifacts/dashboard/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1440, "height": 900}

T = TypeVar("T")

# The known traffic: (method, path, route, status, duration ms, consumer id or None), sent as one batch.
SEEDED: list[tuple[str, str, str, int, float, str | None]] = [
    *[("GET", "/widgets", "/widgets", 200, 10.0 + 10 * i, "acme") for i in range(6)],
    *[("GET", f"/widgets/{i}", "/widgets/{widget_id}", 200, 5.0 + i, "globex") for i in range(3)],
    ("GET", "/widgets/999", "/widgets/{widget_id}", 404, 3.0, "globex"),
    ("POST", "/orders", "/orders", 201, 80.0, "acme"),
    ("POST", "/orders", "/orders", 201, 90.0, None),
    ("POST", "/orders", "/orders", 500, 250.0, "acme"),
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "chromium is not installed: run `apt-get install -y chromium` (.ci/run installs it); "
            "the dashboard's browser tests never download a browser",
            pytrace=False,
        )
    return path


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, ValueError, KeyError) as exc:
            value, last = None, exc
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last!r})")


def _json(url: str, token: str | None = None, body: Any = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return json.loads(text) if text else None


@dataclass
class Stack:
    info: dict[str, Any]
    root: Path

    @property
    def dashboard(self) -> str:
        return str(self.info["dashboard_url"])

    def send(self, events: list[dict[str, Any]], ingest_key: str | None = None) -> None:
        batch = {
            "batch_id": str(uuid.uuid4()),
            "sent_at": int(time.time() * 1000),
            "sdk": {"name": "browser-test", "version": "1"},
            "service": "shop",
            "environment": "test",
            "events": events,
        }
        _json(f"{self.info['ingest_url']}/v1/events/batch", ingest_key or self.info["ingest_key"], batch)

    def api(self, path: str, body: Any = None) -> Any:
        return _json(f"{self.dashboard}{path}", self.info["dashboard_token"], body)

    def new_project(self, name: str) -> tuple[str, str]:
        """(project id, ingest key) of a new project of the demo tenant, so that other tests' figures stay exact."""
        project = self.api("/api/projects", {"name": name})
        key = self.api(f"/api/projects/{project['id']}/keys", {"name": "test"})
        return project["id"], key["key"]


def event(method: str, path: str, route: str, status: int, duration_ms: float, consumer: str | None) -> dict[str, Any]:
    now = int(time.time() * 1000)
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "timestamp": now - 5_000,
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "response_size": 512,
    }
    if consumer:
        body["consumer"] = {"id": consumer, "name": consumer.title()}
    return body


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("dev-stack")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "sentinel-local"), "--dir", str(root), "dev", "--any-free-port"],
        stdout=(root / "dev.log").open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "SENTINEL_LOG_FORMAT": "json"},
    )
    try:
        dev_json = root / "dev.json"

        def ready() -> dict[str, Any] | None:
            if process.poll() is not None:
                raise AssertionError(f"the dev stack exited: {(root / 'dev.log').read_text()[-2000:]}")
            info: dict[str, Any] = json.loads(dev_json.read_text())
            return info if info.get("dashboard_token") and info.get("ingest_key") else None

        stack = Stack(wait_for(ready, 120, "the dev stack to write its credentials"), root)
        for key in ("ingest_url", "dashboard_url"):
            wait_for(lambda key=key: _json(stack.info[key] + "/healthz") is not None, 30, f"{key} to be healthy")
        stack.send([event(*row) for row in SEEDED])
        yield stack
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> Stack:
    """The stack once the worker has stored the seeded requests (as the metrics API counts them)."""
    project = stack.info["project_id"]
    wait_for(
        lambda: stack.api(f"/api/projects/{project}/metrics/overview")["requests"] == len(SEEDED),
        60,
        "the worker to store the seeded requests",
    )
    return stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module-scoped on purpose: Playwright's sync API runs an event loop on this thread while it is open, which
    # must be over before the session's asyncio tests run.
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: run `uv sync --all-packages`", pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None
    )
    try:
        yield page
        assert errors == [], f"the page reported script or CSP errors: {errors}"
    finally:
        context.close()


def sign_in(page: Any, stack: Stack) -> None:
    page.goto(stack.dashboard + "/")
    page.fill("#token-input", stack.info["dashboard_token"])
    page.click("#signin-button")
    page.wait_for_selector("#app:not([hidden])")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_wrong_token_is_refused_with_a_clear_message(page: Any, stack: Stack) -> None:
    page.goto(stack.dashboard + "/")
    page.fill("#token-input", "sdt_" + uuid.uuid4().hex)
    page.click("#signin-button")
    error = page.wait_for_selector("#signin-error:not([hidden])")
    shot(page, "signin-refused")
    assert "refused" in error.inner_text()
    assert page.is_hidden("#app")
    assert page.evaluate("sessionStorage.length") == 0


def test_overview_shows_the_seeded_figures(page: Any, seeded: Stack) -> None:
    stack = seeded
    sign_in(page, stack)
    page.wait_for_selector('[data-metric="requests"]')
    shot(page, "overview")
    errors = sum(1 for row in SEEDED if row[3] >= 400)
    assert page.inner_text('[data-metric="requests"]') == str(len(SEEDED))
    assert page.inner_text('[data-metric="error_rate"]') == f"{errors / len(SEEDED) * 100:.1f}%"
    assert page.inner_text('[data-metric="consumers"]') == str(len({row[5] for row in SEEDED if row[5]}))
    assert page.inner_text('[data-metric="events_lost"]') == "0"
    codes = {
        int(status): page.inner_text(f'#status-codes [data-status="{status}"] .bar-value') for status in (200, 404)
    }
    assert codes[200].startswith(str(sum(1 for row in SEEDED if row[3] == 200)))
    assert codes[404].startswith("1")
    assert page.locator("#chart-volume svg rect").count() > 0
    assert page.locator("#consumers [data-consumer]").count() == 2


def test_endpoints_table_shows_the_seeded_routes_and_sorts(page: Any, seeded: Stack) -> None:
    from playwright.sync_api import expect

    stack = seeded
    sign_in(page, stack)
    page.click('.nav a[data-view="endpoints"]')
    page.wait_for_selector("#endpoints-table tbody tr[data-route]")
    shot(page, "endpoints")
    expected: dict[tuple[str, str], int] = {}
    for method, _, route, *_ in SEEDED:
        expected[(method, route)] = expected.get((method, route), 0) + 1
    rows = page.locator("#endpoints-table tbody tr[data-route]")
    shown = {
        (rows.nth(i).get_attribute("data-method"), rows.nth(i).get_attribute("data-route")): int(
            rows.nth(i).locator('[data-col="requests"]').inner_text()
        )
        for i in range(rows.count())
    }
    assert shown == expected

    # sorted by requests, most first; one click on the column reverses the order
    def order() -> list[int]:
        return [int(text) for text in page.locator('#endpoints-table [data-col="requests"]').all_inner_texts()]

    assert order() == sorted(expected.values(), reverse=True)
    page.click('#endpoints-table th[data-sort="requests"]')
    page.wait_for_selector('#endpoints-table th.sorted.asc[data-sort="requests"]')
    expect(page.locator('#endpoints-table tbody tr[data-route] [data-col="requests"]').first).to_have_text(
        str(min(expected.values()))
    )
    assert order() == sorted(expected.values())
    # the route column sorts on the page, A to Z first
    page.click('#endpoints-table th[data-sort="route"]')
    routes = [row.get_attribute("data-route") for row in page.locator("#endpoints-table tbody tr[data-route]").all()]
    assert routes == sorted(routes)


def test_a_new_request_appears_in_the_live_tail(page: Any, stack: Stack) -> None:
    project_id, ingest_key = stack.new_project("live")
    sign_in(page, stack)
    page.select_option("#project-select", project_id)  # the picker switches the stream to that project
    page.click('.nav a[data-view="live"]')
    page.wait_for_selector("#live-status.on")
    marker = f"/live-check/{uuid.uuid4().hex[:12]}"
    stack.send([event("GET", marker, "/live-check/{id}", 200, 12.5, "acme")], ingest_key)
    row = page.wait_for_selector(f'#live-table tbody tr:has(td.path:text-is("{marker}"))', timeout=30_000)
    # the metrics topic's tick for that request shows as the live rate
    from playwright.sync_api import expect

    expect(page.locator("#live-rate")).to_contain_text("req/s", timeout=30_000)
    assert int(page.get_attribute("#live-rate", "data-requests") or 0) >= 1
    assert "0.0% errors" in page.inner_text("#live-rate")
    shot(page, "live-tail")
    assert "200" in row.inner_text()
    assert "Acme" in row.inner_text()


def test_jobs_view_draws_the_state_tree_of_the_seeded_project(page: Any, seeded: Stack) -> None:
    stack = seeded
    sign_in(page, stack)
    page.click('.nav a[data-view="jobs"]')
    tree = page.wait_for_selector("#state-tree li[data-node-id]")
    assert tree is not None
    for layer in ("layer:ingestion", "layer:scripts", "layer:gold", "layer:jobs"):
        assert page.locator(f'#state-tree li[data-node-id="{layer}"]').count() == 1, layer
    # the seeded traffic's source, live (it sent minutes ago at most), under Layer 1
    source = page.locator('#state-tree li[data-node-id="layer:ingestion"] li[data-node-id="source:shop/test"]')
    assert source.count() == 1
    text = source.inner_text()
    assert "shop (test)" in text
    assert "\nlive\n" in text.lower()  # its status badge
    assert "last seen" in text
    assert "loss 0.0%" in text
    shot(page, "jobs-and-state")


def test_request_log_detail_shows_a_seeded_request(page: Any, seeded: Stack) -> None:
    stack = seeded
    sign_in(page, stack)
    page.click('.nav a[data-view="requests"]')
    page.select_option('#request-filters select[name="status"]', "5xx")
    page.click('#request-filters button[type="submit"]')
    from playwright.sync_api import expect

    # (wait_for_function would evaluate a string, which the page's CSP forbids, as it should)
    expect(page.locator("#requests-table tbody tr[data-event-id]")).to_have_count(1)
    page.click("#requests-table tbody tr[data-event-id]")
    page.wait_for_selector("#detail:not([hidden]) .detail-title")
    shot(page, "request-detail")
    detail = page.inner_text("#detail-body")
    assert "/orders" in detail
    assert "500" in detail


def test_make_demo_fills_a_project_with_varied_traffic_and_stops_cleanly_on_ctrl_c(stack: Stack) -> None:
    project_id, ingest_key = stack.new_project("demo-traffic")
    root = stack.root / "demo"
    root.mkdir()
    (root / "dev.json").write_text(json.dumps({**stack.info, "project_id": project_id, "ingest_key": ingest_key}))
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "sentinel-local"), "--dir", str(root), "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "requests (" in line and int(line.split("| ")[1].split()[0]) >= 150:
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    assert "done:" in output
    assert "every event sent" in output, output
    assert "Traceback" not in output

    # What reached the analytics store through the real ingest API and worker.
    import clickhouse_connect

    url = urllib.parse.urlsplit(stack.info["engines"]["clickhouse"])
    client = clickhouse_connect.get_client(host=url.hostname, port=url.port, database="sentinel")

    def stored() -> dict[str, Any] | None:
        row = client.query(
            "SELECT count() AS n, uniqExact(route) AS routes, countIf(status >= 400 AND status < 500) AS e4,"
            " countIf(status >= 500) AS e5, uniqExact(consumer_id) AS consumers, max(duration_ms) AS slowest"
            " FROM events WHERE project_id = {p:String}",
            parameters={"p": project_id},
        ).named_results()
        figures: dict[str, Any] = next(iter(row))
        return figures if figures["n"] >= 150 else None

    figures = wait_for(stored, 30, "the demo's requests to be stored")
    assert figures["routes"] >= 5
    assert figures["e4"] > 0
    assert figures["e5"] > 0
    assert figures["consumers"] >= 4
    assert figures["slowest"] >= 250  # the slow calls are there
