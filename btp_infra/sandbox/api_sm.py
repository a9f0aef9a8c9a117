"""Service Manager v1 under ``/sm`` (btp-api.md §B.2-§B.9); behaviour in ``service_manager.py``.

Mutations follow ``?async=``: omitted or ``true`` → 202, body ``{}``,
``Location: /v1/<type>/<id>/operations/<op>`` (relative to ``sm_url``); ``false`` → wait for the
operation, then 201 (create) / 200 (update, delete), or 502 BrokerError when it failed.
"""

# No ``from __future__ import annotations``: FastAPI must resolve the closure-local dependency aliases.

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from btp_infra.sandbox.auth import Principal, requires
from btp_infra.sandbox.credentials import credential_request, new_app_id
from btp_infra.sandbox.errors import sm_error
from btp_infra.sandbox.params import async_flag, injected_failure
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.schemas import BindingCreate, BindingUpdate, InstanceCreate, InstanceUpdate
from btp_infra.sandbox.service_manager import ServiceManager
from btp_infra.sandbox.state import Operation

PREFIX = "/sm/v1"
_LIST_PARAMS = ("fieldQuery", "labelQuery", "max_items", "token")


def _query(request: Request) -> dict[str, str | None]:
    return {name: request.query_params.get(name) for name in _LIST_PARAMS}


def _attach_ops(request: Request) -> bool:
    return request.query_params.get("attach_last_operations", "false").lower() == "true"


def _empty() -> dict[str, Any]:
    return {}


def router(rt: Runtime, sm: ServiceManager) -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    reader = Annotated[Principal, Depends(requires(rt, "sm-admin", "sm-platform"))]
    admin = Annotated[Principal, Depends(requires(rt, "sm-admin"))]

    async def finish(
        request: Request, op: Operation, sync_status: int, render: Callable[[], dict[str, Any]]
    ) -> Response:
        if async_flag(request):
            location = f"/v1/{op.resource_type}/{op.resource_id}/operations/{op.id}"
            return JSONResponse({}, status_code=202, headers={"Location": location})
        await rt.clock.sleep_until(op.ready_at, rt.stopping)
        if sm.operation_state(op) == "failed":
            broker = {"StatusCode": 500, "ErrorMessage": "Failed", "Description": op.failure}
            raise sm_error(502, op.failure or "operation failed", "BrokerError", broker_error=broker)
        return JSONResponse(render(), status_code=sync_status)

    # -- catalog --------------------------------------------------------------------------------------------

    @api.get("/info")
    async def info() -> dict[str, Any]:
        return {"token_issuer_url": f"{rt.urls.origin}/uaa", "token_basic_auth": False}

    @api.get("/service_offerings")
    async def list_offerings(request: Request, p: reader) -> dict[str, Any]:
        return sm.list_offerings(p.sm_subaccount, _query(request))

    @api.get("/service_offerings/{offering_id}")
    async def get_offering(offering_id: str, p: reader) -> dict[str, Any]:
        return sm.get_offering(p.sm_subaccount, offering_id)

    @api.get("/service_plans")
    async def list_plans(request: Request, p: reader) -> dict[str, Any]:
        return sm.list_plans(p.sm_subaccount, _query(request))

    @api.get("/service_plans/{plan_id}")
    async def get_plan(plan_id: str, p: reader) -> dict[str, Any]:
        return sm.get_plan(p.sm_subaccount, plan_id)

    # -- instances ------------------------------------------------------------------------------------------

    @api.get("/service_instances")
    async def list_instances(request: Request, p: admin) -> dict[str, Any]:
        return sm.list_instances(p.sm_subaccount, _query(request), _attach_ops(request))

    @api.post("/service_instances")
    async def create_instance(body: InstanceCreate, request: Request, p: admin) -> Response:
        async_flag(request)
        op = sm.create_instance(p.sm_subaccount, body, lambda: injected_failure(rt, request))
        return await finish(request, op, 201, lambda: sm.get_instance(p.sm_subaccount, op.resource_id))

    @api.get("/service_instances/{instance_id}")
    async def get_instance(instance_id: str, p: admin) -> dict[str, Any]:
        return sm.get_instance(p.sm_subaccount, instance_id)

    @api.patch("/service_instances/{instance_id}")
    async def update_instance(instance_id: str, body: InstanceUpdate, request: Request, p: admin) -> Response:
        async_flag(request)
        op = sm.update_instance(p.sm_subaccount, instance_id, body, lambda: injected_failure(rt, request))

        def render() -> dict[str, Any]:
            return sm.get_instance(p.sm_subaccount, instance_id)

        if op is None:
            return JSONResponse(render(), status_code=200)
        return await finish(request, op, 200, render)

    @api.delete("/service_instances/{instance_id}")
    async def delete_instance(instance_id: str, request: Request, p: admin) -> Response:
        async_flag(request)
        op = sm.delete_instance(p.sm_subaccount, instance_id, lambda: injected_failure(rt, request))
        return await finish(request, op, 200, _empty)

    @api.get("/service_instances/{instance_id}/operations/{operation_id}")
    async def instance_operation(instance_id: str, operation_id: str, p: admin) -> dict[str, Any]:
        return sm.get_operation(p.sm_subaccount, "service_instances", instance_id, operation_id)

    # -- bindings -------------------------------------------------------------------------------------------

    @api.get("/service_bindings")
    async def list_bindings(request: Request, p: admin) -> dict[str, Any]:
        return sm.list_bindings(p.sm_subaccount, _query(request), _attach_ops(request))

    @api.post("/service_bindings")
    async def create_binding(body: BindingCreate, request: Request, p: admin) -> Response:
        async_flag(request)
        subaccount = p.sm_subaccount
        x509 = credential_request(body.parameters)
        plan = sm.check_bindable(subaccount, body.service_instance_id)
        app_id = new_app_id(plan)
        cert = None
        if x509 is not None:
            if rt.urls.tls_origin is None:
                raise sm_error(400, "x509 credentials need the sandbox TLS listener (SandboxConfig.tls=True)")
            cert = await asyncio.to_thread(
                rt.ca.issue_client,
                app_id.split("!")[0],
                locality=subaccount,
                validity=x509.validity,
                key_size=x509.key_length,
            )
        op = sm.create_binding(subaccount, body, app_id, cert, lambda: injected_failure(rt, request))
        return await finish(request, op, 201, lambda: sm.get_binding(subaccount, op.resource_id))

    @api.get("/service_bindings/{binding_id}")
    async def get_binding(binding_id: str, p: admin) -> dict[str, Any]:
        return sm.get_binding(p.sm_subaccount, binding_id)

    @api.patch("/service_bindings/{binding_id}")
    async def update_binding(binding_id: str, body: BindingUpdate, p: admin) -> dict[str, Any]:
        return sm.update_binding(p.sm_subaccount, binding_id, body)

    @api.delete("/service_bindings/{binding_id}")
    async def delete_binding(binding_id: str, request: Request, p: admin) -> Response:
        async_flag(request)
        op = sm.delete_binding(p.sm_subaccount, binding_id, lambda: injected_failure(rt, request))
        return await finish(request, op, 200, _empty)

    @api.get("/service_bindings/{binding_id}/operations/{operation_id}")
    async def binding_operation(binding_id: str, operation_id: str, p: admin) -> dict[str, Any]:
        return sm.get_operation(p.sm_subaccount, "service_bindings", binding_id, operation_id)

    return api
