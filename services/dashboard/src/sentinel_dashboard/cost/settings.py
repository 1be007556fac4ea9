"""Cost-calc settings (``SENTINEL_COST_*``): the prices file and the measured CPU per event."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from sentinel_config import InvalidSetting


class CostSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Cost-calc (``SENTINEL_COST_*``). CPU per event defaults are the figures measured in ``bench/README.md``."""

    prices_file: Annotated[
        str, Meta(description="TOML file of unit prices; empty = the packaged public list prices (us-east-1)")
    ] = ""
    ingest_cpu_us_per_event: Annotated[
        float, Meta(description="Ingest API CPU per event, microseconds (bench: 1.9 ms per 500-event batch)", ge=0)
    ] = 3.8
    worker_cpu_us_per_event: Annotated[
        float, Meta(description="Worker CPU per event, microseconds (bench: 4.47 s per million events)", ge=0)
    ] = 4.47
    store_cpu_us_per_event: Annotated[
        float,
        Meta(description="Analytics store CPU per inserted event, microseconds (bench: 5.43 s per million)", ge=0),
    ] = 5.43

    def __post_init__(self) -> None:
        if self.prices_file:
            from sentinel_dashboard.cost.prices import PricesError, load_prices

            try:
                load_prices(self.prices_file)
            except PricesError as exc:
                raise InvalidSetting("prices_file", str(exc)) from None
