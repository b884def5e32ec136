"""Who is calling: the tenant a request acts for."""

from __future__ import annotations

from starlette.requests import Request

DEFAULT_TENANT = "default"


def tenant_of(request: Request) -> str:
    """The caller's tenant (set by the auth middleware; the default tenant without auth)."""
    tenant: str = request.scope.get("riskdrift.tenant", DEFAULT_TENANT)
    return tenant
