"""``/api/layers/...``: presigned script URLs and the health of every connector."""
