"""Entitlements API under ``/entitlements-service`` (btp-api.md §C.1, §C.2); see ``entitlements.py``."""

# No ``from __future__ import annotations``: FastAPI must resolve the closure-local dependency aliases.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from btp_infra.sandbox.auth import Principal, requires
from btp_infra.sandbox.entitlements import Entitlements
from btp_infra.sandbox.params import injected_failure
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.schemas import SubaccountServicePlans

PREFIX = "/entitlements-service"


def router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    cis = Annotated[Principal, Depends(requires(rt, "cis"))]
    logic = Entitlements(rt)

    @api.put("/entitlements/v1/subaccountServicePlans", status_code=202)
    async def assign(body: SubaccountServicePlans, request: Request, _: cis) -> Response:
        job = logic.change(request.url.path, body, lambda: injected_failure(rt, request))
        headers = {"Location": f"/jobs-management/v1/jobs/{job.id}"} if rt.config.entitlement_jobs else {}
        return Response(status_code=202, headers=headers)

    @api.get("/entitlements/v1/assignments")
    async def assignments(
        request: Request,
        _: cis,
        subaccountGUID: str | None = None,
        serviceName: str | None = None,
        planName: str | None = None,
        includeAutoManagedPlans: bool = False,
    ) -> dict[str, Any]:
        return logic.assignments(
            request.url.path, subaccountGUID, serviceName, planName, includeAutoManagedPlans
        )

    @api.get("/jobs-management/v1/jobs/{job_id}/status")
    async def job_status(job_id: str, request: Request, _: cis) -> dict[str, Any]:
        return logic.job_status(request.url.path, job_id)

    return api
