"""``GET /api/projects/{project_id}/cost``: cost-calc with public list prices as defaults."""
