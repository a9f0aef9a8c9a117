"""``ServiceManagerAccess``: the subaccount's Service Manager admin binding, and the tenant's claim on it.

Created with ``POST /accounts/v1/subaccounts/{guid}/serviceManagementBinding`` (btp-api.md §C.3) using the
global cis key, so one global credential yields per-subaccount SM admin access. The credentials are never an
output: providers that need them fetch them again through the Accounts API.

Ownership. The admin binding is one per subaccount, so it is shared by whatever uses it:

- one subaccount serves one tenant: ``create`` refuses a subaccount in which another tenant's btp-infra
  objects live (the claim check, before anything of this tenant is written), and every ``read`` records the
  tenants found (output ``tenants``) for the policy pack;
- an admin binding that existed before this stack is *adopted* (``created: false``) and kept on delete,
  unless the stack sets ``btp-infra:takeOwnership``;
- delete removes this tenant's leftovers only (SM objects labelled with this tenant that no resource owns any
  more, e.g. of a create that failed after SM accepted it) and keeps the admin binding while btp-infra
  objects of any other tenant remain.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from btp_infra.btp.errors import BtpError, NoAdminAccessError, SubaccountGoneError
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.config import SM_TENANT_LABEL
from btp_infra.providers.base import (
    BtpProvider,
    check_result,
    diff_inputs,
    inputs_of,
    log,
    require_bool,
    require_str,
    require_timeout,
)
from btp_infra.providers.instance import MANAGED_QUERY, remove_instance, tenant_query

INPUTS = ("subaccountId", "tenant", "takeOwnership", "timeoutSeconds")
ROLLBACK_TIMEOUT = 300.0


class SubaccountClaimedError(BtpError):
    """The subaccount already serves another tenant (one subaccount ↔ one tenant namespace)."""


def tenants_in(sm: ServiceManagerClient) -> list[str]:
    """The tenants (namespaces) whose btp-infra SM instances live in the subaccount (a tenant's bindings sit
    on its instances, so the instances are its claim)."""
    found: set[str] = set()
    for instance in sm.list_instances(label_query=MANAGED_QUERY):
        found.update(instance.labels.get(SM_TENANT_LABEL, []))
    return sorted(found)


class ServiceManagerAccessProvider(BtpProvider):
    """Creates (or adopts) the subaccount's SM admin binding; deletes only what this tenant owns."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        require_str(news, "subaccountId", failures)
        require_str(news, "tenant", failures)
        require_bool(news, "takeOwnership", failures)
        require_timeout(news, failures)
        return check_result(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # timeoutSeconds and takeOwnership only change how we wait and what delete keeps: an update that
        # calls no API.
        return diff_inputs(olds, news, keys=INPUTS, replace_keys=("subaccountId",))

    def create(self, props: dict[str, Any]) -> CreateResult:
        guid, tenant = props["subaccountId"], props["tenant"]
        accounts = self.accounts()
        # Look before writing: an existing binding is adopted (and checked for other tenants) without a write.
        existing = accounts.get_service_management_binding(guid)
        if existing is not None:
            creds, created = existing, False
        else:
            creds, created = accounts.ensure_service_management_binding(guid, timeout=self.timeout_of(props))
        try:
            tenants = tenants_in(self.service_manager(guid, creds))
            others = [t for t in tenants if t != tenant]
            if others:
                raise SubaccountClaimedError(
                    f"subaccount {guid} already serves tenant namespace {', '.join(others)} (btp-infra "
                    f"objects labelled {SM_TENANT_LABEL} in its Service Manager); one subaccount serves "
                    f"exactly one tenant namespace, so {tenant!r} needs a subaccount of its own "
                    "(btp-infra:subaccountId)"
                )
        except Exception:
            if created:  # Pulumi records no partial create: leave nothing behind that no resource owns
                self._roll_back(guid)
            raise
        outs = {
            **inputs_of(props, INPUTS),
            "smUrl": creds.sm_url,
            "clientId": creds.clientid,
            "created": created,
            "adopted": not created,
            "tenants": tenants,
        }
        return CreateResult(guid, outs)

    def _roll_back(self, guid: str) -> None:
        self.forget_service_manager(guid)
        try:
            self.accounts().delete_service_management_binding(guid, timeout=ROLLBACK_TIMEOUT)
        except Exception as err:  # best effort; the create's own error is what is raised
            log.warning("btp-infra: could not roll back the admin access of subaccount %s: %s", guid, err)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**olds, **inputs_of(news, INPUTS)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        creds = self.accounts().get_service_management_binding(id_)
        if creds is None:  # gone (with the subaccount, or removed in the cockpit): `up` creates it again
            return ReadResult("", {})
        outs = {**props, "smUrl": creds.sm_url, "clientId": creds.clientid}
        outs["tenants"] = tenants_in(self.service_manager(id_, creds))
        return ReadResult(id_, outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        timeout = self.timeout_of(props)
        try:
            sm = self.service_manager(id_)
        except SubaccountGoneError:
            log.warning("btp-infra: subaccount %s no longer exists; its admin access is gone with it", id_)
            return
        except NoAdminAccessError:
            return  # already deleted: nothing of ours is reachable, and nothing to delete
        tenant = props.get("tenant")
        if isinstance(tenant, str) and tenant:
            self._sweep(sm, tenant, timeout)
        remaining = tenants_in(sm)
        owned = props.get("created") is not False or props.get("takeOwnership") is True
        if not owned:
            log.warning(
                "btp-infra: kept the Service Manager admin access of subaccount %s: it existed before this "
                "stack (adopted; set btp-infra:takeOwnership to delete it with the stack)",
                id_,
            )
            return
        if remaining:
            log.warning(
                "btp-infra: kept the Service Manager admin access of subaccount %s: btp-infra objects of "
                "tenant(s) %s still use it",
                id_,
                ", ".join(remaining),
            )
            return
        self.forget_service_manager(id_)
        self.accounts().delete_service_management_binding(id_, timeout=timeout)

    @staticmethod
    def _sweep(sm: ServiceManagerClient, tenant: str, timeout: float) -> None:
        """Deplete, then delete: remove the SM bindings and instances labelled with *this* tenant that are
        still there when its admin access goes (their own resources were deleted first). A create that fails
        after SM accepted it (lost poll, failed operation) leaves one behind, and Pulumi records no partial
        creates, so destroy would orphan it. Other tenants' objects are never touched."""
        query = tenant_query(tenant)
        for binding in sm.list_bindings(label_query=query):
            sm.delete_binding(binding.id, timeout=timeout)
        for instance in sm.list_instances(label_query=query):
            remove_instance(sm, instance.id, timeout)


class ServiceManagerAccess(Resource, module="btp", name="ServiceManagerAccess"):
    """Service Manager admin access to one subaccount (the ``serviceManagementBinding``)."""

    subaccountId: pulumi.Output[str]
    smUrl: pulumi.Output[str]
    adopted: pulumi.Output[bool]
    tenants: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        *,
        subaccount_id: pulumi.Input[str],
        tenant: str,
        take_ownership: bool = False,
        timeout_seconds: float | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "subaccountId": subaccount_id,
            "tenant": tenant,
            "takeOwnership": take_ownership,
            "timeoutSeconds": timeout_seconds,
            "smUrl": None,
            "clientId": None,
            "created": None,
            "adopted": None,
            "tenants": None,
        }
        super().__init__(ServiceManagerAccessProvider(), name, props, opts)
