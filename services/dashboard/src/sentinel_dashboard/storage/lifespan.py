"""Open the object store once per process and hand it to handlers as the ``objects`` dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from litestar import Litestar, Request
from litestar.di import NamedDependency

from sentinel_storage import LocalUrlSigner, ObjectStore, open_object_store

if TYPE_CHECKING:
    from sentinel_dashboard.settings import Settings

ObjectsDep = NamedDependency[ObjectStore]


def public_url(settings: Settings) -> str:
    """Where clients and sandboxes reach this API (``SENTINEL_ANALYSIS_PUBLIC_URL``, else the loopback address of
    the configured port): the base of the local backend's signed URLs, the same one the analysis flow uses."""
    return settings.analysis.base_url(settings.dashboard.port)


def objects_lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        signer = LocalUrlSigner(settings.control.hash_secret, public_url(settings))
        store = open_object_store(settings.archive, settings.aws, url_signer=signer)
        app.state.objects = store
        app.state.object_url_signer = signer
        try:
            yield
        finally:
            await store.close()

    return lifespan


def provide_objects(request: Request[Any, Any, Any]) -> ObjectStore:
    store: ObjectStore = request.app.state.objects
    return store
