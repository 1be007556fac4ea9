"""Sentinel's control plane store: tenants, projects, ingest keys and dashboard tokens.

Two implementations of one ``ControlStore`` protocol: SQLite (the embedded default) and a DynamoDB single
table. Secrets are stored only as keyed hashes (``SecretHasher``); ``KeyResolver`` maps an ingest key to its
project and limits with an in-process TTL cache.
"""

from sentinel_control.credentials import (
    INGEST_KEY_PREFIX,
    TOKEN_PREFIX,
    IssuedSecret,
    SecretHasher,
    looks_like,
    visible_part,
)
from sentinel_control.dynamodb import DynamoControlStore, table_definition
from sentinel_control.errors import ConflictError, ControlStoreError, LimitExceededError, StoreUnavailableError
from sentinel_control.factory import hasher_from, open_control_store
from sentinel_control.ids import JobId, KeyId, ProjectId, TenantId, TokenId, is_id, new_id
from sentinel_control.jobs import TERMINAL, Job, JobChanges, JobKind, JobStatus
from sentinel_control.models import (
    SCOPES,
    DashboardToken,
    IngestKey,
    KeyResolution,
    Project,
    ProjectChanges,
    Scope,
    Tenant,
    TenantLimits,
    now_ms,
)
from sentinel_control.resolver import KeyResolver
from sentinel_control.sqlite import SqliteControlStore
from sentinel_control.store import ControlStore

__all__ = [
    "INGEST_KEY_PREFIX",
    "SCOPES",
    "TERMINAL",
    "TOKEN_PREFIX",
    "ConflictError",
    "ControlStore",
    "ControlStoreError",
    "DashboardToken",
    "DynamoControlStore",
    "IngestKey",
    "IssuedSecret",
    "Job",
    "JobChanges",
    "JobId",
    "JobKind",
    "JobStatus",
    "KeyId",
    "KeyResolution",
    "KeyResolver",
    "LimitExceededError",
    "Project",
    "ProjectChanges",
    "ProjectId",
    "Scope",
    "SecretHasher",
    "SqliteControlStore",
    "StoreUnavailableError",
    "Tenant",
    "TenantId",
    "TenantLimits",
    "TokenId",
    "hasher_from",
    "is_id",
    "looks_like",
    "new_id",
    "now_ms",
    "open_control_store",
    "table_definition",
    "visible_part",
]
