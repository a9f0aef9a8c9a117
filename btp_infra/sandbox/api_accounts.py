"""Accounts API under ``/accounts-service`` (btp-api.md §C.3, §C.3a): subaccounts and
serviceManagementBinding.

``GET /accounts/v1/subaccounts[?labelSelector=&directoryGUID=]`` answers ``{"value": [...]}``; ``POST``
(201), ``PATCH /{guid}`` and ``DELETE /{guid}[?forceDelete=true]`` (200, the subaccount in ``STARTED`` /
``UPDATING`` / ``DELETING``) run the lifecycle of ``subaccounts.py``. POST serviceManagementBinding takes the
``admin_binding`` latency and answers 201; it needs the subaccount in state OK (409 otherwise, an emulator
choice). DELETE serviceManagementBinding answers 200 with an empty body.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from btp_infra.sandbox.auth import Principal, requires
from btp_infra.sandbox.errors import btp_error
from btp_infra.sandbox.params import injected_outcome
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.schemas import SubaccountCreate, SubaccountUpdate
from btp_infra.sandbox.service_manager import ServiceManager
from btp_infra.sandbox.state import Binding, Subaccount
from btp_infra.sandbox.subaccounts import SubaccountLifecycle, unusable

PREFIX = "/accounts-service/accounts/v1/subaccounts"


def router(rt: Runtime, sm: ServiceManager) -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    cis = Annotated[Principal, Depends(requires(rt, "cis"))]
    store = rt.store
    lifecycle = SubaccountLifecycle(rt)

    def subaccount(request: Request, guid: str) -> Subaccount:
        with store.settled():
            return lifecycle.get(request.url.path, guid)

    def admin_binding(request: Request, guid: str) -> Binding:
        subaccount(request, guid)
        with store.settled():
            admin = store.admin_bindings.get(guid)
            binding = store.bindings.get(admin.binding_id) if admin else None
        if binding is None:
            raise btp_error(404, f"No Service Manager binding exists for subaccount {guid}", request.url.path)
        return binding

    def credentials(binding: Binding) -> dict[str, Any]:
        keys = ("clientid", "clientsecret", "sm_url", "url", "xsappname")
        return {key: binding.credentials[key] for key in keys}

    @api.get("")
    async def list_subaccounts(
        request: Request, _: cis, labelSelector: str | None = None, directoryGUID: str | None = None
    ) -> dict[str, Any]:
        return {"value": lifecycle.listing(request.url.path, labelSelector, directoryGUID)}

    @api.post("", status_code=201)
    async def create_subaccount(body: SubaccountCreate, request: Request, who: cis) -> dict[str, Any]:
        return lifecycle.create(request.url.path, body, who.client_id, lambda: injected_outcome(rt, request))

    @api.get("/{guid}")
    async def get_subaccount(guid: str, request: Request, _: cis) -> dict[str, Any]:
        with store.settled():
            return lifecycle.render(lifecycle.get(request.url.path, guid))

    @api.patch("/{guid}")
    async def update_subaccount(
        guid: str, body: SubaccountUpdate, request: Request, _: cis
    ) -> dict[str, Any]:
        return lifecycle.update(request.url.path, guid, body, lambda: injected_outcome(rt, request))

    @api.delete("/{guid}")
    async def delete_subaccount(
        guid: str, request: Request, _: cis, forceDelete: bool = False
    ) -> dict[str, Any]:
        return lifecycle.delete(request.url.path, guid, forceDelete, lambda: injected_outcome(rt, request))

    @api.post("/{guid}/serviceManagementBinding", status_code=201)
    async def create_binding(guid: str, request: Request, _: cis) -> dict[str, Any]:
        def check() -> None:
            sub = subaccount(request, guid)
            if not sub.usable:
                raise btp_error(409, unusable(sub), request.url.path)
            if guid in store.admin_bindings:
                raise btp_error(
                    409, f"A Service Manager binding already exists for subaccount {guid}", request.url.path
                )

        check()
        await rt.clock.sleep_until(rt.clock.now() + rt.latencies.admin_binding, rt.stopping)
        with store.settled():
            check()
            return credentials(sm.create_admin_binding(guid))

    @api.get("/{guid}/serviceManagementBinding")
    async def get_binding(guid: str, request: Request, _: cis) -> dict[str, Any]:
        return credentials(admin_binding(request, guid))

    @api.delete("/{guid}/serviceManagementBinding")
    async def delete_binding(guid: str, request: Request, _: cis) -> Response:
        sm.delete_admin_binding(admin_binding(request, guid))
        return Response(status_code=200)

    return api
