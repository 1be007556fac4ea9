"""``POST/GET /api/projects/{project_id}/scripts``: a project's analysis scripts in the object store."""
