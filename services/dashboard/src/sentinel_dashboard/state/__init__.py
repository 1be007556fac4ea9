"""``GET /api/projects/{project_id}/state``: the project's state tree, kept live on the SSE topic ``state``."""
