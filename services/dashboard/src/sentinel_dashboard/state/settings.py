"""State tree settings (``SENTINEL_STATE_*``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class StateSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The live state tree (``SENTINEL_STATE_*``)."""

    refresh_s: Annotated[
        float, Meta(description="Seconds between recomputing watched projects' trees to push changes on SSE", ge=0.2)
    ] = 10.0
    max_projects: Annotated[
        int, Meta(description="Projects one dashboard process keeps live (the most recently viewed)", ge=1, le=10_000)
    ] = 200
    watch_ttl_s: Annotated[
        float, Meta(description="How long after its last view a project stays live while no one listens", ge=1)
    ] = 120.0
    health_ttl_s: Annotated[
        float, Meta(description="How long the connectors' health shown in the tree is reused, seconds", ge=0)
    ] = 15.0
