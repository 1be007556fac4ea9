"""Public surface and the import guard of the framework modules."""

from __future__ import annotations

import importlib
import sys

import pytest

import sentinel_sdk

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [
        ("starlette", "starlette", "starlette"),
        ("litestar", "litestar", "litestar"),
        ("flask", "flask", "flask"),
        ("django", "django", "django"),
    ],
)
def test_a_missing_framework_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, framework: str, extra: str
) -> None:
    monkeypatch.delitem(sys.modules, f"sentinel_sdk.{module}", raising=False)
    for name in [name for name in sys.modules if name == framework or name.startswith(f"{framework}.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, framework, None)  # makes `import <framework>` fail
    with pytest.raises(ImportError, match=rf'pip install "sentinel-sdk\[{extra}\]"'):
        importlib.import_module(f"sentinel_sdk.{module}")


def test_the_package_exports_the_client_and_set_consumer() -> None:
    assert {"Client", "Consumer", "set_consumer", "__version__"} <= set(sentinel_sdk.__all__)


def test_generic_integrations_need_no_framework() -> None:
    assert importlib.import_module("sentinel_sdk.asgi").SentinelMiddleware
    assert importlib.import_module("sentinel_sdk.wsgi").SentinelMiddleware
