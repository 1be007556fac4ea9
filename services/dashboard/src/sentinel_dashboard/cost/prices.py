"""Unit prices for cost-calc, from a TOML file (the packaged ``prices.toml`` unless one is configured)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated

import msgspec
import tomllib
from msgspec import Meta

Price = Annotated[float, Meta(ge=0)]


class PricesError(ValueError):
    """The prices file is missing or wrong; the message names the file and the field."""


class PriceMeta(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    currency: str = "USD"
    as_of: str = ""
    region: str = ""


class AnalyticsPrices(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    storage_gb_month: Price


class ComputePrices(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    vcpu_hour: Price


class S3Prices(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    storage_gb_month: Price
    put_per_1000: Price
    get_per_1000: Price


class EventBridgePrices(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    events_per_million: Price


class StepFunctionsPrices(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    transitions_per_1000: Price


class DynamoDBPrices(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    write_units_per_million: Price
    read_units_per_million: Price


class SandboxPrices(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    e2b_per_second: Price
    modal_per_second: Price
    local_per_second: Price = 0.0

    def per_second(self, provider: str) -> float:
        return {"e2b": self.e2b_per_second, "modal": self.modal_per_second}.get(provider, self.local_per_second)


class Prices(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    meta: PriceMeta = msgspec.field(default_factory=PriceMeta)
    analytics: AnalyticsPrices
    compute: ComputePrices
    s3: S3Prices
    eventbridge: EventBridgePrices
    stepfunctions: StepFunctionsPrices
    dynamodb: DynamoDBPrices
    sandbox: SandboxPrices
    source: str = ""


def _packaged() -> tuple[str, str]:
    text = resources.files("sentinel_dashboard.cost").joinpath("prices.toml").read_text(encoding="utf-8")
    return text, "packaged default (sentinel_dashboard/cost/prices.toml)"


@cache
def load_prices(path: str = "") -> Prices:
    """The prices in ``path`` (the packaged defaults when empty); ``PricesError`` naming the problem."""
    if path:
        try:
            text, source = Path(path).read_text(encoding="utf-8"), path
        except OSError as exc:
            raise PricesError(f"cannot read prices file {path}: {exc.strerror or exc}") from None
    else:
        text, source = _packaged()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PricesError(f"prices file {source} is not valid TOML: {exc}") from None
    try:
        prices = msgspec.convert(data, Prices)
    except msgspec.ValidationError as exc:
        raise PricesError(f"prices file {source}: {exc}") from None
    return msgspec.structs.replace(prices, source=source)
