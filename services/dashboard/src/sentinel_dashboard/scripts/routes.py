"""``POST/GET /api/projects/{project_id}/scripts`` and ``DELETE .../scripts/{name}``, in the caller's tenant only
(another tenant's project: 404)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import Provide
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.params import ProjectIdParam
from sentinel_dashboard.projects.routes import project_of
from sentinel_dashboard.responses import JSON_BODY, authed
from sentinel_dashboard.scripts import service
from sentinel_dashboard.scripts.payloads import MAX_SCRIPT_BYTES, ScriptList, ScriptOut, ScriptUpload
from sentinel_dashboard.state.nodes import Node, publish_nodes, update_of
from sentinel_dashboard.storage import ObjectsDep, provide_objects

# JSON escaping can make a source up to six times longer on the wire; the decoded source has its own cap.
_MAX_BODY = 6 * MAX_SCRIPT_BYTES + 4096


def script_node(script: ScriptOut, *, last_run: dict[str, Any] | None = None) -> Node:
    meta: dict[str, Any] = {
        "key": script.key,
        "size": script.size,
        "sha256": script.sha256,
        "created_at": script.created_at,
        "last_run": last_run,
    }
    status = "ready" if last_run is None else str(last_run.get("status", "ready"))
    return Node(id=f"script:{script.name}", name=script.name, kind="script", status=status, meta=meta)


class ScriptController(Controller):
    path = "/api/projects/{project_id:str}/scripts"
    tags = ["scripts"]
    dependencies = {"principal": Provide(provide_principal), "objects": Provide(provide_objects, sync_to_thread=False)}

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        request_max_body_size=_MAX_BODY,
        summary="Upload an analysis script (replaces one of the same name)",
        responses=authed(404, 409, 422, *JSON_BODY),
    )
    async def upload_script(
        self,
        request: Request[Any, Any, Any],
        principal: PrincipalDep,
        control: ControlDep,
        objects: ObjectsDep,
        project_id: ProjectIdParam,
        data: JSONBody[ScriptUpload],
    ) -> ScriptOut:
        """Store ``{name, source}`` under the project's scripts; the source must parse as Python (422 otherwise)
        and be at most 256 KiB (413). The script's node is pushed on the SSE topic ``state``."""
        principal.require("write")
        project = await project_of(control, principal, project_id)
        script = await service.upload(objects, principal.tenant_id, project.id, data, uploaded_by=principal.token_id)
        await publish_nodes(request.app.state.redis, project.id, [update_of(script_node(script), "layer:scripts")])
        return script

    @delete(
        "/{name:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete an analysis script (404 if the project has none of that name)",
        responses=authed(404),
    )
    async def delete_script(
        self,
        request: Request[Any, Any, Any],
        principal: PrincipalDep,
        control: ControlDep,
        objects: ObjectsDep,
        project_id: ProjectIdParam,
        name: Annotated[str, Parameter(max_length=200, description="The script's file name")],
    ) -> None:
        """Remove the script; its node leaves the state tree (``removed`` on the SSE topic ``state``)."""
        principal.require("write")
        project = await project_of(control, principal, project_id)
        script = await service.delete(objects, principal.tenant_id, project.id, name)
        await publish_nodes(
            request.app.state.redis, project.id, [update_of(script_node(script), "layer:scripts", removed=True)]
        )

    @get("/", summary="A project's analysis scripts with size, time and SHA-256", responses=authed(404))
    async def list_scripts(
        self, principal: PrincipalDep, control: ControlDep, objects: ObjectsDep, project_id: ProjectIdParam
    ) -> ScriptList:
        principal.require("read")
        project = await project_of(control, principal, project_id)
        return ScriptList(items=await service.list_scripts(objects, principal.tenant_id, project.id))
