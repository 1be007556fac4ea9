"""Sentinel SDK: one-line API analytics middleware."""

__version__ = "0.1.0"
