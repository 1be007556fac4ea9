"""Errors raised by every object store backend."""

from __future__ import annotations


class StorageError(RuntimeError):
    """The backend failed (I/O, network, permissions); the message names the backend and the key."""


class InvalidKey(ValueError):
    """A key or prefix that no backend accepts."""

    def __init__(self, key: object, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"invalid object key {key!r}: {problem}")


class ObjectNotFound(KeyError):
    """No object under this key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)

    def __str__(self) -> str:
        return f"no object {self.key!r}"


class PresignUnavailable(StorageError):
    """The local backend was opened without a URL signer, so it cannot hand out URLs."""
