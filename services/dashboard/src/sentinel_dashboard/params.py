"""Path parameters shared by the dashboard's routes: malformed ids are a 400 before any lookup."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

from sentinel_control.ids import KEY_ID_PATTERN, PROJECT_ID_PATTERN, TOKEN_ID_PATTERN

ProjectIdParam = Annotated[
    str, Parameter(pattern=PROJECT_ID_PATTERN, description="Project id (prj_ and 22 base62 characters)")
]
KeyIdParam = Annotated[str, Parameter(pattern=KEY_ID_PATTERN, description="Ingest key id (key_ and 22 characters)")]
TokenIdParam = Annotated[str, Parameter(pattern=TOKEN_ID_PATTERN, description="Token id (tok_ and 22 characters)")]
