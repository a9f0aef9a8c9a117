"""Control endpoints under ``/sandbox`` (unauthenticated; the server binds 127.0.0.1 only).

``GET state|calls|routes|faults``, ``POST faults``, ``DELETE faults``, ``PUT latencies``,
``POST tokens/revoke``, ``POST reset``, ``POST clock/advance``, ``GET subaccounts`` (the Accounts API's view
plus each running job), ``POST subaccounts`` (seed one, body ``SubaccountSeed``), ``PATCH subaccounts/{guid}``
(an out-of-band change; a ``state`` also ends a running or stuck job), ``DELETE subaccounts/{guid}`` (gone at
once with its contents, as if deleted in the cockpit). None of them returns secrets or tokens.
"""

# No ``from __future__ import annotations``: FastAPI resolves the annotations at import time.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from btp_infra.sandbox.config import SubaccountSeed
from btp_infra.sandbox.errors import ApiError
from btp_infra.sandbox.faults import FaultSpec
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.schemas import ClockAdvance, RevokeRequest, SubaccountPatch
from btp_infra.sandbox.subaccounts import SubaccountLifecycle


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

    lifecycle = SubaccountLifecycle(rt)

    @api.get("/subaccounts")
    async def subaccounts() -> list[dict[str, Any]]:
        with rt.store.settled():
            return [
                {
                    **lifecycle.render(sub),
                    "job": None
                    if sub.job is None
                    else {"kind": sub.job.kind, "stuck": sub.job.stuck, "force": sub.job.force},
                }
                for sub in rt.store.subaccounts.values()
            ]

    @api.post("/subaccounts", status_code=201)
    async def seed_subaccount(body: SubaccountSeed) -> dict[str, str]:
        try:
            rt.seed_subaccount(body)
        except ValueError as exc:
            raise ApiError(409, str(exc), family="control") from None
        return {"guid": body.guid}

    @api.patch("/subaccounts/{guid}")
    async def patch_subaccount(guid: str, body: SubaccountPatch) -> dict[str, str]:
        try:
            return rt.patch_subaccount(
                guid,
                body.state,
                body.state_message,
                display_name=body.display_name,
                description=body.description,
                labels=body.labels,
                used_for_production=body.used_for_production,
            )
        except KeyError:
            raise ApiError(404, f"unknown subaccount {guid}", family="control") from None

    @api.delete("/subaccounts/{guid}")
    async def remove_subaccount(guid: str) -> dict[str, str]:
        try:
            rt.remove_subaccount(guid)
        except KeyError:
            raise ApiError(404, f"unknown subaccount {guid}", family="control") from None
        return {}

    return api
