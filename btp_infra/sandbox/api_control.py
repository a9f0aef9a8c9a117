"""Control endpoints under ``/sandbox`` (unauthenticated; the server binds 127.0.0.1 only).

``GET state|calls|routes|faults``, ``POST faults``, ``DELETE faults``, ``PUT latencies``,
``POST tokens/revoke``, ``POST reset``, ``POST clock/advance``, ``PATCH subaccounts/{guid}``.
None of them returns secrets or tokens.
"""

# No ``from __future__ import annotations``: FastAPI resolves the annotations at import time.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from btp_infra.sandbox.errors import ApiError
from btp_infra.sandbox.faults import FaultSpec
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.schemas import ClockAdvance, RevokeRequest, SubaccountPatch


def router(rt: Runtime, routes: Callable[[], list[dict[str, str]]]) -> APIRouter:
    api = APIRouter(prefix="/sandbox")

    @api.get("/state")
    async def state() -> dict[str, Any]:
        return rt.state()

    @api.get("/calls")
    async def calls() -> list[dict[str, Any]]:
        return rt.calls.entries()

    @api.get("/routes")
    async def list_routes() -> list[dict[str, str]]:
        return routes()

    @api.get("/faults")
    async def faults() -> list[dict[str, object]]:
        return rt.faults.pending()

    @api.post("/faults", status_code=201)
    async def add_fault(spec: FaultSpec) -> dict[str, str]:
        return {"id": rt.faults.add(spec)}

    @api.delete("/faults")
    async def clear_faults() -> dict[str, str]:
        rt.faults.clear()
        return {}

    @api.put("/latencies")
    async def latencies(changes: dict[str, float]) -> dict[str, float]:
        try:
            return rt.set_latencies(changes).model_dump()
        except ValueError as exc:
            raise ApiError(400, f"invalid latencies: {exc}", family="control") from None

    @api.post("/tokens/revoke")
    async def revoke(body: RevokeRequest | None = None) -> dict[str, int]:
        return {"revoked": rt.store.revoke_tokens(body.client_id if body else None)}

    @api.post("/reset")
    async def reset() -> dict[str, str]:
        rt.reset()
        return {}

    @api.post("/clock/advance")
    async def advance(body: ClockAdvance) -> dict[str, float]:
        rt.clock.advance(body.seconds)
        return {"now": rt.clock.now()}

    @api.patch("/subaccounts/{guid}")
    async def patch_subaccount(guid: str, body: SubaccountPatch) -> dict[str, str]:
        try:
            return rt.patch_subaccount(guid, body.state, body.state_message)
        except KeyError:
            raise ApiError(404, f"unknown subaccount {guid}", family="control") from None

    return api
