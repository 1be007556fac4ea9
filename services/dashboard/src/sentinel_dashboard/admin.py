"""``sentinel-dashboard admin``: bootstrap tenants, projects and keys from a shell or a script.

Every command prints one JSON object on stdout (secrets included, shown this once) and exits 0; a problem is one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec

from sentinel_control import (
    ControlStore,
    ControlStoreError,
    SecretHasher,
    TenantLimits,
    hasher_from,
    is_id,
    now_ms,
    open_control_store,
)
from sentinel_dashboard.projects import service as projects
from sentinel_dashboard.projects.payloads import KeyOut, ProjectCreate, ProjectOut
from sentinel_dashboard.settings import Settings
from sentinel_dashboard.tokens.service import create_tenant


class AdminError(Exception):
    """A problem to report in one line."""


def add_admin_commands(commands: Any) -> None:
    admin = commands.add_parser("admin", help="create tenants, projects and keys")
    sub = admin.add_subparsers(dest="admin_command", required=True)
    tenant = sub.add_parser("create-tenant", help="create a tenant and print its id and an admin token")
    tenant.add_argument("name")
    tenant.add_argument("--max-projects", type=int, default=TenantLimits().max_projects)
    project = sub.add_parser("create-project", help="create a project in a tenant")
    project.add_argument("--tenant", required=True)
    project.add_argument("name")
    project.add_argument("--retention-days", type=int, default=30)
    project.add_argument("--rate-limit-eps", type=int, default=10_000)
    project.add_argument("--rate-limit-burst", type=int, default=50_000)
    key = sub.add_parser("create-key", help="issue an ingest key for a project")
    key.add_argument("--tenant", required=True)
    key.add_argument("--project", required=True)
    key.add_argument("--name", default="default")
    revoke = sub.add_parser("revoke-key", help="revoke an ingest key")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("--project", required=True)
    revoke.add_argument("key_id")


def _check_ids(args: argparse.Namespace) -> None:
    for option, kind in (("tenant", "ten"), ("project", "prj"), ("key_id", "key")):
        value = getattr(args, option, None)
        if value is not None and not is_id(kind, value):  # type: ignore[arg-type]
            raise AdminError(f"--{option.replace('_', '-')} {value!r} is not a {kind}_ id")


async def _project(store: ControlStore, tenant_id: str, project_id: str) -> Any:
    project = await store.get_project(tenant_id, project_id)
    if project is None:
        raise AdminError(f"no project {project_id} in tenant {tenant_id}")
    return project


async def _run(args: argparse.Namespace, store: ControlStore, hasher: SecretHasher) -> dict[str, Any]:
    command = args.admin_command
    if command == "create-tenant":
        tenant, token = await create_tenant(store, hasher, args.name, TenantLimits(max_projects=args.max_projects))
        return {"tenant_id": tenant.id, "name": tenant.name, "token": token.token, "token_id": token.id}
    if command == "create-project":
        if await store.get_tenant(args.tenant) is None:
            raise AdminError(f"no tenant {args.tenant}")
        request = msgspec.convert(
            {
                "name": args.name,
                "retention_days": args.retention_days,
                "rate_limit_eps": args.rate_limit_eps,
                "rate_limit_burst": args.rate_limit_burst,
            },
            ProjectCreate,
        )
        created: dict[str, Any] = msgspec.to_builtins(
            ProjectOut.of(await projects.create_project(store, args.tenant, request))
        )
        return created
    if command == "create-key":
        project = await _project(store, args.tenant, args.project)
        issued: dict[str, Any] = msgspec.to_builtins(await projects.create_key(store, hasher, project, args.name))
        return issued
    if command == "revoke-key":
        key = await store.revoke_key(args.tenant, args.project, args.key_id, at=now_ms())
        if key is None:
            raise AdminError(f"no key {args.key_id} in project {args.project} of tenant {args.tenant}")
        revoked: dict[str, Any] = msgspec.to_builtins(KeyOut.of(key))
        return revoked
    raise AdminError(f"unknown command {command}")


def run_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Run one admin command; returns the exit status."""

    async def main() -> dict[str, Any]:
        store = open_control_store(settings.control, settings.aws)
        await store.setup()
        try:
            return await _run(args, store, hasher_from(settings.control))
        finally:
            await store.close()

    try:
        _check_ids(args)
        result = asyncio.run(main())
    except (AdminError, ControlStoreError, LookupError, msgspec.ValidationError) as exc:
        print(f"sentinel-dashboard admin {args.admin_command}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    return 0
