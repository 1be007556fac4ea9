"""Sentinel dashboard and orchestration API."""

__version__ = "0.1.0"
