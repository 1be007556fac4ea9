"""``ConnectorSettings``: the settings section of sync connectors (``SENTINEL_CONNECTORS_*``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class ConnectorSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Sync connectors (archive replay, S3 access-log import), wherever they run."""

    confirm_timeout_s: Annotated[
        float,
        Meta(
            description="How long a sync waits for the worker to store the batches it enqueued (and, before a "
            "replay, for the batches of its range still in the queue), seconds",
            gt=0,
            le=86_400,
        ),
    ] = 600.0
    reservation_ttl_s: Annotated[
        int,
        Meta(
            description="How long a re-enqueued batch stays reserved against another sync enqueuing it again, "
            "seconds (released as soon as it is stored)",
            ge=60,
            le=604_800,
        ),
    ] = 3_600
    batch_events: Annotated[int, Meta(description="Events per batch an import builds", ge=1, le=10_000)] = 500
    enqueue_chunk: Annotated[int, Meta(description="Batches enqueued per Redis call", ge=1, le=1_000)] = 100
    poll_interval_s: Annotated[
        float, Meta(description="Pause between checks of the store while waiting, seconds", gt=0, le=60)
    ] = 0.5
