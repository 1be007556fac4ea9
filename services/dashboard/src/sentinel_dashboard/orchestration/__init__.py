"""Orchestration: syncs and flows run for a project as jobs."""
