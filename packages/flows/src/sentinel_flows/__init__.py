"""Sentinel's data flows (Amazon States Language, on Step Functions or a local runner) and sync triggers."""
