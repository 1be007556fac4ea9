"""The worker's counters, served in Prometheus text format on ``/metrics``."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Metrics:
    """Monotonic counters (``*_total``) and a few gauges, all owned by one event loop."""

    entries_processed_total: int = 0
    events_processed_total: int = 0
    events_inserted_total: int = 0
    batches_inserted_total: int = 0
    inserts_total: int = 0
    duplicate_batches_total: int = 0
    store_retries_total: int = 0
    archive_retries_total: int = 0
    queue_errors_total: int = 0
    entries_claimed_total: int = 0
    groups_replayed_total: int = 0
    dead_letters_total: int = 0
    tail_events_published_total: int = 0
    metrics_ticks_published_total: int = 0
    stream_entries_trimmed_total: int = 0
    lag_entries: int = 0
    inflight_inserts: int = 0

    def snapshot(self) -> dict[str, float]:
        return {name: float(value) for name, value in asdict(self).items()}
