"""``.env.example`` lists every variable every service reads, with its default (regenerate: make env-example)."""

from __future__ import annotations

from pathlib import Path

from sentinel_config import document, render_env_example
from sentinel_dashboard.settings import Settings as DashboardSettings
from sentinel_ingest.settings import Settings as IngestSettings
from sentinel_worker.settings import Settings as WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = (IngestSettings, WorkerSettings, DashboardSettings)


def test_env_example_is_up_to_date() -> None:
    committed = (ROOT / ".env.example").read_text()
    assert committed == render_env_example(*SERVICES), "run `make env-example` and commit .env.example"


def test_every_setting_of_every_service_is_documented() -> None:
    undocumented = [doc.variable for cls in SERVICES for doc in document(cls) if not doc.description]
    assert undocumented == []
