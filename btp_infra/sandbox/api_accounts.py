"""Accounts API under ``/accounts-service`` (btp-api.md §C.3): subaccounts and serviceManagementBinding.

``GET /accounts/v1/subaccounts`` answers ``{"value": [...]}``. POST serviceManagementBinding takes the
``admin_binding`` latency and answers 201; it needs the subaccount in state OK (409 otherwise, an emulator
choice). DELETE answers 200 with an empty body.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from btp_infra.sandbox.auth import Principal, requires
from btp_infra.sandbox.clock import iso
from btp_infra.sandbox.errors import btp_error
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.service_manager import ServiceManager
from btp_infra.sandbox.state import Binding, Subaccount

PREFIX = "/accounts-service/accounts/v1/subaccounts"


def router(rt: Runtime, sm: ServiceManager) -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    cis = Annotated[Principal, Depends(requires(rt, "cis"))]
    store = rt.store

    def render(sub: Subaccount) -> dict[str, Any]:
        ga = rt.config.global_account_guid
        return {
            "guid": sub.guid,
            "technicalName": sub.guid,
            "displayName": sub.display_name,
            "globalAccountGUID": ga,
            "parentGUID": ga,
            "parentType": "ROOT",
            "parentFeatures": ["DEFAULT"],
            "region": sub.region,
            "subdomain": sub.subdomain,
            "betaEnabled": False,
            "usedForProduction": "UNSET",
            "description": "",
            "state": sub.state,
            "stateMessage": sub.state_message,
            "labels": {},
            "createdBy": "sandbox",
            "createdDate": iso(sub.created),
            "modifiedDate": iso(sub.created),
        }

    def subaccount(request: Request, guid: str) -> Subaccount:
        with store.settled():
            sub = store.subaccounts.get(guid)
        if sub is None:
            raise btp_error(404, f"Subaccount {guid} not found", request.url.path)
        return sub

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
    async def list_subaccounts(_: cis) -> dict[str, Any]:
        with store.settled():
            return {"value": [render(s) for s in store.subaccounts.values()]}

    @api.get("/{guid}")
    async def get_subaccount(guid: str, request: Request, _: cis) -> dict[str, Any]:
        return render(subaccount(request, guid))

    @api.post("/{guid}/serviceManagementBinding", status_code=201)
    async def create_binding(guid: str, request: Request, _: cis) -> dict[str, Any]:
        def check() -> None:
            sub = subaccount(request, guid)
            if sub.state != "OK":
                raise btp_error(409, f"Subaccount {guid} is in state {sub.state}, not OK", request.url.path)
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
