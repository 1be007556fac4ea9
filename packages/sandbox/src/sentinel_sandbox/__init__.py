"""Sentinel's sandbox runners and the signed callback protocol."""
