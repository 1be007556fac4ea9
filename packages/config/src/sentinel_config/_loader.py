"""Load settings Structs from ``SENTINEL_*`` environment variables.

A settings class is a msgspec Struct whose fields are sections (themselves Structs). Field ``f`` of section
``s`` is read from ``SENTINEL_<S>_<F>``. Each field carries a one-line description and a default in its
``Annotated[..., Meta(description=...)]``; those also generate ``.env.example``.
"""

from __future__ import annotations

import os
import re
import sys
import typing
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn, TypeVar

import msgspec

PREFIX = "SENTINEL_"

T = TypeVar("T", bound=msgspec.Struct)


class SettingsError(ValueError):
    """A setting is missing or wrong. ``variable`` names the environment variable at fault."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class InvalidSetting(ValueError):
    """Raised by a section's ``__post_init__`` to reject one field's value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class FieldDoc(msgspec.Struct, frozen=True):
    """One setting, for documentation: variable name, default as text, description, whether it is secret."""

    section: str
    variable: str
    default: str
    description: str
    secret: bool


def env_name(section: str, field: str) -> str:
    """``env_name("redis", "url") == "SENTINEL_REDIS_URL"``."""
    return f"{PREFIX}{section.upper()}_{field.upper()}"


def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _meta(annotation: Any) -> msgspec.Meta | None:
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in typing.get_args(annotation)[1:]:
            if isinstance(extra, msgspec.Meta):
                return extra
    return None


def is_secret(annotation: Any) -> bool:
    meta = _meta(annotation)
    return bool(meta and meta.extra and meta.extra.get("secret"))


def _sections(settings_cls: type[msgspec.Struct]) -> Iterator[tuple[str, type[msgspec.Struct]]]:
    for name, annotation in _hints(settings_cls).items():
        if name.startswith("_"):
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)):
            raise TypeError(f"{settings_cls.__name__}.{name}: every field of a settings class must be a section Struct")
        yield name, annotation


def _parse(raw: str, annotation: Any) -> Any:
    base = annotation
    if typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    if typing.get_origin(base) in (list, tuple, frozenset, set) or base in (list, tuple, frozenset, set):
        items: Any = [item.strip() for item in raw.split(",") if item.strip()]
        return msgspec.convert(items, annotation, strict=False)
    return msgspec.convert(raw, annotation, strict=False)


def _describe_validation_error(exc: msgspec.ValidationError, raw: str, annotation: Any) -> str:
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    if typing.get_origin(base) is typing.Literal:
        choices = ", ".join(str(choice) for choice in typing.get_args(base))
        return f"must be one of {choices}, got {raw!r}"
    text = str(exc).split(" - at `$", 1)[0]
    text = re.sub(r", got `[^`]*`$", "", text)
    if text.startswith("Expected"):
        text = "expected" + text[len("Expected") :]
    return f"{text}, got {raw!r}"


def load_section(section: str, cls: type[T], environ: Mapping[str, str], *, strict_unknown: bool = True) -> T:
    """Build one section from the environment, naming the variable at fault on any error."""
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for field in cls.__struct_fields__:
        variable = env_name(section, field)
        raw = environ.get(variable)
        if raw is None:
            continue
        try:
            values[field] = _parse(raw, hints[field])
        except msgspec.ValidationError as exc:
            shown = "<secret>" if is_secret(hints[field]) else raw
            raise SettingsError(variable, _describe_validation_error(exc, shown, hints[field])) from None
    if strict_unknown:
        known = {env_name(section, field) for field in cls.__struct_fields__}
        section_prefix = f"{PREFIX}{section.upper()}_"
        for variable in environ:
            if variable.startswith(section_prefix) and variable not in known:
                raise SettingsError(variable, f"unknown setting; known ones are {', '.join(sorted(known))}")
    try:
        return cls(**values)
    except InvalidSetting as exc:
        raise SettingsError(env_name(section, exc.field), exc.problem) from None


def load_settings(settings_cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build a service's settings from ``environ`` (default: ``os.environ``); raises ``SettingsError``."""
    env = os.environ if environ is None else environ
    sections = {name: load_section(name, cls, env) for name, cls in _sections(settings_cls)}
    return settings_cls(**sections)


def load_or_exit(settings_cls: type[T], program: str, environ: Mapping[str, str] | None = None) -> T:
    """Like ``load_settings`` but a bad setting stops the process with one line on stderr (exit status 2)."""
    try:
        return load_settings(settings_cls, environ)
    except SettingsError as exc:
        _exit_with(program, exc)


def _exit_with(program: str, exc: SettingsError) -> NoReturn:
    print(f"{program}: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2)


def document(settings_cls: type[msgspec.Struct]) -> list[FieldDoc]:
    """Every setting of a settings class, in declaration order."""
    docs: list[FieldDoc] = []
    for section, cls in _sections(settings_cls):
        hints = _hints(cls)
        defaults = msgspec.structs.fields(cls)
        for info in defaults:
            annotation = hints[info.name]
            meta = _meta(annotation)
            default = info.default if info.default is not msgspec.NODEFAULT else None
            if info.default_factory is not msgspec.NODEFAULT:
                default = info.default_factory()
            docs.append(
                FieldDoc(
                    section=section,
                    variable=env_name(section, info.name),
                    default=_render_default(default),
                    description=(meta.description if meta and meta.description else ""),
                    secret=is_secret(annotation),
                )
            )
    return docs


def _render_default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value)
    return str(value)


def redacted(settings: msgspec.Struct) -> dict[str, Any]:
    """The settings as builtins with every secret replaced by ``"***"`` (empty secrets stay empty)."""
    result: dict[str, Any] = {}
    for section in settings.__struct_fields__:
        value = getattr(settings, section)
        hints = _hints(type(value))
        shown: dict[str, Any] = {}
        for field in value.__struct_fields__:
            item = getattr(value, field)
            shown[field] = "***" if is_secret(hints[field]) and item else msgspec.to_builtins(item)
        result[section] = shown
    return result


def render_env_example(*settings_classes: type[msgspec.Struct]) -> str:
    """``.env.example`` text listing every variable of the given settings classes once, with its default."""
    lines = [
        "# Every SENTINEL_* variable with its default. Copy to .env or export them; unset means the default.",
        "# Generated by `make env-example` from the services' settings classes: do not edit by hand.",
    ]
    seen: set[str] = set()
    current_section = ""
    for settings_cls in settings_classes:
        for doc in document(settings_cls):
            if doc.variable in seen:
                continue
            seen.add(doc.variable)
            if doc.section != current_section:
                lines.append("")
                lines.append(f"# --- {doc.section} ---")
                current_section = doc.section
            secret = " (secret)" if doc.secret else ""
            lines.append(f"# {doc.description}{secret}")
            lines.append(f"{doc.variable}={'' if doc.secret else doc.default}")
    return "\n".join(lines) + "\n"
