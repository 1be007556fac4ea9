"""Who is calling: dashboard tokens (``Authorization: Bearer sdt_...``) resolved to a tenant and scopes."""

from sentinel_dashboard.auth.principal import Principal, provide_principal

__all__ = ["Principal", "provide_principal"]
