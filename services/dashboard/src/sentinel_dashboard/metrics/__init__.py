"""Metrics of a project from the analytics store: overview, time series, endpoints, status codes, consumers."""
