"""Names of the injected dependencies, marked for Litestar's name-based injection."""

from __future__ import annotations

from litestar.di import NamedDependency

from sentinel_analytics.reads import AnalyticsReader
from sentinel_control import ControlStore, SecretHasher
from sentinel_dashboard.auth import Principal

ControlDep = NamedDependency[ControlStore]
HasherDep = NamedDependency[SecretHasher]
PrincipalDep = NamedDependency[Principal]
AnalyticsDep = NamedDependency[AnalyticsReader]
