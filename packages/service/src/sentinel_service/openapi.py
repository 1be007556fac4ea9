"""Describe a raw-body endpoint's request in OpenAPI from a msgspec type.

Routes that read their body themselves (to enforce size limits while receiving, to decompress, to accept
MessagePack) have no ``data`` parameter for Litestar to document; ``request_body_operation`` gives them the same
documentation, generated from the msgspec Struct the body decodes to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

_RENAMES = {
    "allOf": "all_of",
    "anyOf": "any_of",
    "oneOf": "one_of",
    "maxLength": "max_length",
    "minLength": "min_length",
    "maxItems": "max_items",
    "minItems": "min_items",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "additionalProperties": "additional_properties",
    "propertyNames": "property_names",
    "maxProperties": "max_properties",
    "minProperties": "min_properties",
    "multipleOf": "multiple_of",
}
_FIELDS = set(Schema.__dataclass_fields__)


def _ref(value: str) -> Reference:
    return Reference(ref=re.sub(r"^#/\$defs/", "#/components/schemas/", value))


def to_schema(node: Any) -> Schema | Reference:
    """A Litestar ``Schema`` from a JSON Schema dict as ``msgspec.json.schema`` produces it."""
    if "$ref" in node:
        return _ref(node["$ref"])
    fields: dict[str, Any] = {}
    for key, value in node.items():
        name = _RENAMES.get(key, key)
        if name not in _FIELDS:
            continue
        if name == "type":
            value = [OpenAPIType(v) for v in value] if isinstance(value, list) else OpenAPIType(value)
        elif name == "format":
            try:
                value = OpenAPIFormat(value)
            except ValueError:
                continue
        elif name == "properties":
            value = {prop: to_schema(sub) for prop, sub in value.items()}
        elif name in ("items", "property_names") or (name == "additional_properties" and isinstance(value, dict)):
            value = to_schema(value)
        elif name in ("all_of", "any_of", "one_of"):
            value = [to_schema(sub) for sub in value]
        fields[name] = value
    return Schema(**fields)


def inline_schema(type_: type[Any]) -> Schema | Reference:
    """The JSON Schema of ``type_`` with every reference resolved in place (the types have no cycles).

    Inlined because Litestar regenerates ``components.schemas`` from its own registry, dropping added ones.
    """
    document = msgspec.json.schema(type_)
    definitions = document.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return to_schema(resolve(document))


def request_body_operation(
    body_type: type[Any], media_types: tuple[str, ...], description: str | None = None
) -> type[Operation]:
    """An ``operation_class`` that documents a request body of ``body_type`` in the given media types."""
    name = body_type.__name__
    schema = inline_schema(body_type)
    description = description or f"A {name}, in any of the listed encodings (gzip Content-Encoding accepted)."

    @dataclass
    class _WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                required=True,
                description=description,
                content={media: OpenAPIMediaType(schema=schema) for media in media_types},
            )

    return _WithBody
