"""Errors of the control store."""

from __future__ import annotations


class ControlStoreError(Exception):
    """Base class of the control store's errors."""


class ConflictError(ControlStoreError):
    """A unique thing already exists (same id, same project name in a tenant, a concurrent create won)."""


class LimitExceededError(ControlStoreError):
    """A tenant limit would be exceeded."""


class StoreUnavailableError(ControlStoreError):
    """The store could not be reached or answered with a server error."""
