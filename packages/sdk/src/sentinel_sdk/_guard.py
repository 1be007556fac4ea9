"""Import errors that say which extra to install."""

from __future__ import annotations


def missing_framework(module: str, framework: str, extra: str) -> ImportError:
    """The error raised by ``sentinel_sdk.<module>`` when its framework is not installed."""
    return ImportError(
        f'sentinel_sdk.{module} needs {framework}, which is not installed: pip install "sentinel-sdk[{extra}]"'
    )
