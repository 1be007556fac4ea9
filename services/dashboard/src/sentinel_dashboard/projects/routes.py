"""``/api/projects``: projects and their ingest keys, scoped to the caller's tenant.

Another tenant's project id answers 404, exactly like an id that does not exist.
"""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from sentinel_control import ControlStore, Project, now_ms
from sentinel_dashboard.auth import Principal, provide_principal
from sentinel_dashboard.deps import ControlDep, HasherDep, PrincipalDep
from sentinel_dashboard.params import KeyIdParam, ProjectIdParam
from sentinel_dashboard.projects import service
from sentinel_dashboard.projects.payloads import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    ProjectCreate,
    ProjectList,
    ProjectOut,
    ProjectUpdate,
)
from sentinel_dashboard.responses import JSON_BODY, authed
from sentinel_service import ApiError


async def project_of(store: ControlStore, principal: Principal, project_id: str) -> Project:
    """The caller's project, or 404 (also for another tenant's project: its existence is not revealed)."""
    project = await store.get_project(principal.tenant_id, project_id)
    if project is None:
        raise ApiError(404, f"no project {project_id}", field="project_id")
    return project


class ProjectController(Controller):
    path = "/api/projects"
    tags = ["projects"]
    dependencies = {"principal": Provide(provide_principal)}

    @post("/", status_code=HTTP_201_CREATED, summary="Create a project", responses=authed(409, *JSON_BODY))
    async def create_project(
        self, principal: PrincipalDep, control: ControlDep, data: JSONBody[ProjectCreate]
    ) -> ProjectOut:
        principal.require("write")
        return ProjectOut.of(await service.create_project(control, principal.tenant_id, data))

    @get("/", summary="List the tenant's projects", responses=authed())
    async def list_projects(self, principal: PrincipalDep, control: ControlDep) -> ProjectList:
        principal.require("read")
        return ProjectList(items=[ProjectOut.of(p) for p in await control.list_projects(principal.tenant_id)])

    @get("/{project_id:str}", summary="Get a project", responses=authed(404))
    async def get_project(self, principal: PrincipalDep, control: ControlDep, project_id: ProjectIdParam) -> ProjectOut:
        principal.require("read")
        return ProjectOut.of(await project_of(control, principal, project_id))

    @patch(
        "/{project_id:str}",
        summary="Change a project's name, retention, rate limits or enabled flag",
        responses=authed(404, 409, *JSON_BODY),
    )
    async def update_project(
        self, principal: PrincipalDep, control: ControlDep, project_id: ProjectIdParam, data: JSONBody[ProjectUpdate]
    ) -> ProjectOut:
        principal.require("write")
        updated = await service.update_project(control, principal.tenant_id, project_id, data)
        if updated is None:
            raise ApiError(404, f"no project {project_id}", field="project_id")
        return ProjectOut.of(updated)

    @delete(
        "/{project_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a project and its keys",
        responses=authed(404),
    )
    async def delete_project(self, principal: PrincipalDep, control: ControlDep, project_id: ProjectIdParam) -> None:
        principal.require("write")
        if not await control.delete_project(principal.tenant_id, project_id):
            raise ApiError(404, f"no project {project_id}", field="project_id")

    @post(
        "/{project_id:str}/keys",
        status_code=HTTP_201_CREATED,
        summary="Issue an ingest key (shown once)",
        responses=authed(404, 409, *JSON_BODY),
    )
    async def create_key(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        hasher: HasherDep,
        project_id: ProjectIdParam,
        data: JSONBody[KeyCreate | None] = None,
    ) -> KeyCreated:
        principal.require("write")
        project = await project_of(control, principal, project_id)
        return await service.create_key(control, hasher, project, (data or KeyCreate()).name)

    @get("/{project_id:str}/keys", summary="List a project's ingest keys (never the secrets)", responses=authed(404))
    async def list_keys(self, principal: PrincipalDep, control: ControlDep, project_id: ProjectIdParam) -> KeyList:
        principal.require("read")
        project = await project_of(control, principal, project_id)
        return KeyList(items=[KeyOut.of(k) for k in await control.list_keys(principal.tenant_id, project.id)])

    @delete(
        "/{project_id:str}/keys/{key_id:str}", status_code=200, summary="Revoke an ingest key", responses=authed(404)
    )
    async def revoke_key(
        self, principal: PrincipalDep, control: ControlDep, project_id: ProjectIdParam, key_id: KeyIdParam
    ) -> KeyOut:
        principal.require("write")
        project = await project_of(control, principal, project_id)
        key = await control.revoke_key(principal.tenant_id, project.id, key_id, at=now_ms())
        if key is None:
            raise ApiError(404, f"no key {key_id} in project {project_id}", field="key_id")
        return KeyOut.of(key)

    @post(
        "/{project_id:str}/keys/{key_id:str}/rotate",
        status_code=HTTP_201_CREATED,
        summary="Replace an ingest key: issue a new one and revoke the old one atomically",
        responses=authed(404, 409),
    )
    async def rotate_key(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        hasher: HasherDep,
        project_id: ProjectIdParam,
        key_id: KeyIdParam,
    ) -> KeyCreated:
        principal.require("write")
        project = await project_of(control, principal, project_id)
        rotated = await service.rotate_key(control, hasher, project, key_id)
        if rotated is None:
            raise ApiError(404, f"no active key {key_id} in project {project_id}", field="key_id")
        return rotated
