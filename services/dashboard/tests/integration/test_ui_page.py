"""The dashboard page at ``/`` and its assets: served with strict security headers, no inline code, no traversal."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from sentinel_config import ControlSettings, LogSettings, RedisSettings
from sentinel_dashboard.app import create_app
from sentinel_dashboard.settings import Settings
from sentinel_dashboard.ui.routes import STATIC_DIR
from sentinel_local import RedisEngine


@pytest.fixture
async def client(tmp_path: Path, redis_server: RedisEngine) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    settings = Settings(
        redis=RedisSettings(url=redis_server.url),
        control=ControlSettings(
            sqlite_path=str(tmp_path / "control.db"), hash_secret="ui-test-secret-0123456789-abcdefgh"
        ),
        log=LogSettings(format="json"),
    )
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_script = False
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self.links: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.handlers += [name for name in named if name.startswith("on")]
        if "style" in named:
            self.styles.append(tag)
        if tag == "script":
            self.scripts.append(named)
            self._in_script = True
        for name in ("src", "href"):
            value = named.get(name)
            if value and value.startswith("/ui/"):
                self.links.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


async def test_page_is_served_with_a_strict_content_security_policy(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_page_has_no_inline_code_and_every_asset_it_names_exists(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    page = _Page()
    page.feed((await client.get("/")).text)
    assert page.scripts
    assert all(script.get("src") for script in page.scripts)
    assert not page.inline_script
    assert page.handlers == []
    assert page.styles == []
    for link in page.links:
        asset = await client.get(link)
        assert asset.status_code == 200, link
        assert asset.headers["content-security-policy"]
    # every module the scripts import is served too
    for script in sorted(STATIC_DIR.rglob("*.js")):
        for imported in re.findall(r'from "\./([\w.-]+\.js)"', script.read_text()):
            asset = await client.get(f"/ui/{script.parent.relative_to(STATIC_DIR).as_posix()}/{imported}")
            assert asset.status_code == 200, imported
            assert asset.headers["content-type"].startswith("text/javascript")


async def test_unknown_or_escaping_asset_names_are_404_json(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    for name in ("nope.js", "../routes.py", "..%2Froutes.py", "js/../../routes.py", "index.html"):
        response = await client.get(f"/ui/{name}")
        assert response.status_code == 404, name
        assert response.json()["status"] == 404


async def test_unchanged_asset_answers_304(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    first = await client.get("/ui/app.css")
    assert first.status_code == 200
    again = await client.get("/ui/app.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_page_routes_stay_out_of_the_api_schema(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert "/" not in paths
    assert not any(path.startswith("/ui") for path in paths)
