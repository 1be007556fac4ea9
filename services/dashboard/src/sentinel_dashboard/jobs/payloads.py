"""Response bodies of the job routes (``JobOut`` is shared with the worker, which publishes sync job updates)."""

from __future__ import annotations

import msgspec

from sentinel_control.views import JobOut

__all__ = ["JobList", "JobOut"]


class JobList(msgspec.Struct, kw_only=True):
    items: list[JobOut]
