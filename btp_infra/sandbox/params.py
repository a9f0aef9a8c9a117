"""Request helpers shared by the routers: route template, ``async`` flag, injected operation failures and
stuck operations."""

from __future__ import annotations

from fastapi import Request

from btp_infra.sandbox.errors import sm_error
from btp_infra.sandbox.runtime import Runtime

DEFAULT_FAILURE = "Operation failed (injected by the sandbox)"


def route_template(request: Request) -> str | None:
    """The matched route's path template, e.g. ``/sm/v1/service_instances/{instance_id}``."""
    path = getattr(request.scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def async_flag(request: Request) -> bool:
    """SM's ``async`` query parameter; SAP documents the default as TRUE (btp-api.md §B.5)."""
    raw = request.query_params.get("async")
    if raw is None:
        return True
    if raw.lower() not in ("true", "false"):
        raise sm_error(400, "async must be 'true' or 'false'")
    return raw.lower() == "true"


def injected_failure(rt: Runtime, request: Request) -> str | None:
    """Consume an ``operation_failed`` fault for this route: the failure description, or None."""
    spec = rt.faults.take(request.method, route_template(request), request.url.path, ("operation_failed",))
    if spec is None:
        return None
    return spec.description or DEFAULT_FAILURE


def injected_outcome(rt: Runtime, request: Request) -> tuple[str | None, bool]:
    """Consume an ``operation_failed`` or ``stuck`` fault for this route: ``(failure or None, stuck)``."""
    spec = rt.faults.take(
        request.method, route_template(request), request.url.path, ("operation_failed", "stuck")
    )
    if spec is None:
        return None, False
    if spec.kind == "stuck":
        return None, True
    return spec.description or DEFAULT_FAILURE, False
