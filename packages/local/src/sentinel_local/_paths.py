"""Where things live in a checkout: the repository root and the ignored folder for downloaded engines."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout's root (the folder holding ``uv.lock``), searched from the working directory, then this file."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "uv.lock").exists() and (candidate / "packages").is_dir():
                return candidate
    return Path.cwd()


def tools_dir() -> Path:
    """The ignored folder holding engines installed from npm (``SENTINEL_LOCAL_TOOLS_DIR`` overrides)."""
    override = os.environ.get("SENTINEL_LOCAL_TOOLS_DIR")
    return Path(override) if override else repo_root() / ".local"


def state_dir() -> Path:
    """The ignored folder for ``make dev`` and ``make up`` state and data (``SENTINEL_DEV_DIR`` overrides)."""
    override = os.environ.get("SENTINEL_DEV_DIR")
    return Path(override) if override else repo_root() / ".sentinel"
