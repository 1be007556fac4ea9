"""Sentinel's flow task handlers, shared by the dashboard (local runner) and the worker (Step Functions).

``analysis_registry(AnalysisContext(...))`` is the ``HandlerRegistry`` of ``infra/flows/analysis.asl.json``;
``open_analysis_context`` builds the context from a service's settings sections.
"""

from sentinel_flowtasks.analysis import AnalysisContext, Exporter, analysis_registry, window_ms
from sentinel_flowtasks.jobs import change_job, merged
from sentinel_flowtasks.settings import CALLBACK_PATH, AnalysisSettings, SandboxProvider

__all__ = [
    "CALLBACK_PATH",
    "AnalysisContext",
    "AnalysisSettings",
    "Exporter",
    "SandboxProvider",
    "analysis_registry",
    "change_job",
    "merged",
    "window_ms",
]
