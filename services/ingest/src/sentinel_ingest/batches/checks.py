"""Checks that need the project and the clock: an event's timestamp must fall within the project's window."""

from __future__ import annotations

from sentinel_types import Event, EventRejection, limits

DAY_MS = 86_400_000


def check_timestamps(
    events: list[Event], indexes: list[int], *, now_ms: int, retention_days: int
) -> tuple[list[Event], list[EventRejection]]:
    """Split events into those within [now - retention, now + 1 day] and rejections for the others.

    ``indexes`` gives each event's position in the original batch, so rejections name the right index.
    """
    newest = now_ms + limits.MAX_FUTURE_SKEW_MS
    oldest = now_ms - retention_days * DAY_MS
    kept: list[Event] = []
    rejected: list[EventRejection] = []
    for index, event in zip(indexes, events, strict=True):
        timestamp = event.timestamp
        if timestamp > newest:
            rejected.append(
                EventRejection(index=index, field="timestamp", error="more than a day in the future: check the clock")
            )
        elif timestamp < oldest:
            rejected.append(
                EventRejection(
                    index=index,
                    field="timestamp",
                    error=f"older than the project's retention of {retention_days} days",
                )
            )
        else:
            kept.append(event)
    return kept, rejected
