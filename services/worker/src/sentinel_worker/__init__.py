"""Sentinel worker: queue consumer and sinks."""

__version__ = "0.1.0"
