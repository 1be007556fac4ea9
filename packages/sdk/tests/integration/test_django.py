"""Django through its test clients (sync and async), configured from ``settings.SENTINEL``."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

django = pytest.importorskip("django")

from django.conf import settings  # noqa: E402
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.test import AsyncClient, override_settings  # noqa: E402
from django.test import Client as DjangoClient  # noqa: E402
from django.urls import include, path, re_path  # noqa: E402

from sentinel_sdk import Client, Consumer, set_consumer  # noqa: E402

pytestmark = pytest.mark.integration

URLCONF = "sentinel_sdk_test_urls"


def user(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"user": pk})


def article(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(year)


def fail(request: HttpRequest) -> HttpResponse:
    raise LookupError("nope")


def missing(request: HttpRequest) -> HttpResponse:
    raise Http404("no such thing")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"x" * 500, b"y" * 700]))


def me(request: HttpRequest) -> HttpResponse:
    set_consumer("acct_dj", group="pro")
    return HttpResponse("me")


async def async_user(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"user": pk})


def identify(request: HttpRequest) -> Consumer | None:
    account = request.headers.get("X-Account")
    return Consumer(id=account) if account else None


@pytest.fixture(scope="module", autouse=True)
def django_project() -> Iterator[None]:
    """Settings, configured once for the process, and a URLconf module with nested and regex routes."""
    urls = types.ModuleType(URLCONF)
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("api/", include([path("users/<int:pk>/", user), path("async/users/<int:pk>/", async_user)])),
        re_path(r"^articles/(?P<year>[0-9]{4})/$", article),
        path("fail/", fail),
        path("missing/", missing),
        path("stream/", stream),
        path("me/", me),
    ]
    sys.modules[URLCONF] = urls
    sys.modules[f"{URLCONF}_identify"] = types.SimpleNamespace(identify=identify)  # type: ignore[assignment]
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="test-only",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=URLCONF,
            MIDDLEWARE=["sentinel_sdk.django.SentinelMiddleware"],
            INSTALLED_APPS=[],
            DATABASES={},
        )
        django.setup()
    with override_settings(ROOT_URLCONF=URLCONF, MIDDLEWARE=["sentinel_sdk.django.SentinelMiddleware"]):
        yield
    del sys.modules[URLCONF]


@pytest.fixture
def sentinel(make_client: Callable[..., Client]) -> Iterator[Callable[..., Client]]:
    """Point ``settings.SENTINEL`` at a client of the recording server."""
    overrides: list[Any] = []

    def configure(**options: Any) -> Client:
        hook = options.pop("identify", None)
        client = make_client(**options)
        override = override_settings(SENTINEL={"client": client, "identify": hook})
        override.enable()
        overrides.append(override)
        return client

    yield configure
    for override in overrides:
        override.disable()


def test_nested_routes_are_reported_as_templates(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    assert DjangoClient().get("/api/users/7/?verbose=1").status_code == 200
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.route, event.path, event.status) == ("/api/users/{pk}/", "/api/users/7/?verbose=1", 200)
    assert event.response_size == len(b'{"user": 7}')


def test_regex_routes_are_reported_as_templates(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    DjangoClient().get("/articles/2024/")
    DjangoClient().get("/nowhere/")
    client.flush()
    article_event, missing = ingest.wait_for_events(2)
    assert article_event.route == "/articles/{year}/"
    assert (missing.route, missing.status) == (None, 404)


def test_a_view_exception_is_recorded_as_a_500(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    assert DjangoClient(raise_request_exception=False).get("/fail/").status_code == 500
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.error, event.route) == (500, "LookupError", "/fail/")


def test_a_404_raised_by_a_view_is_not_an_error(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    assert DjangoClient().get("/missing/").status_code == 404
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.error, event.route) == (404, None, "/missing/")


def test_a_view_exception_reaches_the_test_client_unchanged(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    with pytest.raises(LookupError, match="nope"):
        DjangoClient().get("/fail/")
    client.flush()
    assert ingest.wait_for_events(1)[0].error == "LookupError"


def test_streaming_responses_are_counted_as_they_are_sent(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    response = DjangoClient().get("/stream/")
    assert len(b"".join(response.streaming_content)) == 1_200
    response.close()
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.response_size, event.aborted) == (1_200, False)


def test_a_streaming_response_closed_early_is_an_abort(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    response = DjangoClient().get("/stream/")
    next(iter(response.streaming_content))
    response.close()
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.response_size, event.aborted) == (500, True)


def test_consumers_come_from_set_consumer_or_a_dotted_identify(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel(identify=f"{URLCONF}_identify.identify")
    DjangoClient().get("/me/")
    DjangoClient().get("/api/users/1/", headers={"X-Account": "acct_hdr"})
    client.flush()
    me_event, user_event = ingest.wait_for_events(2)
    assert me_event.consumer == Consumer(id="acct_dj", group="pro")
    assert user_event.consumer == Consumer(id="acct_hdr")


def test_request_sizes_come_from_content_length(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    DjangoClient().post("/api/users/3/", data=b"z" * 321, content_type="application/octet-stream")
    client.flush()
    assert ingest.wait_for_events(1)[0].request_size == 321


def test_all_headers_can_be_captured_with_secrets_redacted(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel(capture_headers=True, trusted_proxies=1)
    DjangoClient().get("/api/users/1/", headers={"Cookie": "sid=1", "X-Forwarded-For": "6.6.6.6, 198.51.100.9"})
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.request_headers is not None
    assert event.request_headers["cookie"] == "[REDACTED]"
    assert event.request_headers["x-forwarded-for"] == "6.6.6.6, 198.51.100.9"
    assert "server-name" not in event.request_headers  # environ keys that are not headers stay out
    assert event.client_ip == "198.51.100.9"


async def test_async_requests_are_captured(ingest: Any, sentinel: Callable[..., Client]) -> None:
    client = sentinel()
    response = await AsyncClient().get("/api/async/users/5/")
    assert response.status_code == 200
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.route, event.status) == ("/api/async/users/{pk}/", 200)
