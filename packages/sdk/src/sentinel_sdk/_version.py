"""Name and version the SDK reports in every batch."""

SDK_NAME = "sentinel-python"
__version__ = "0.1.0"
