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

from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from btp_infra.btp.errors import BtpError, NoAdminAccessError, SubaccountGoneError
from btp_infra.btp.keys import ServiceManagerCredentials
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import MANAGED_QUERY, tenant_query
from btp_infra.conventions import DEFAULT_TIMEOUTS, ROLLBACK_TIMEOUT, SM_TENANT_LABEL
from btp_infra.providers.base import BtpProvider, log
from btp_infra.providers.instance import remove_instance
from btp_infra.providers.spec import ResourceSpec, optional_bool, optional_timeout, required_str


class ServiceManagerAccessInputs(TypedDict):
    """The inputs, by their names in state."""

    subaccountId: pulumi.Input[str]
    tenant: str
    takeOwnership: bool
    timeoutSeconds: float | None


class ServiceManagerAccessOutputs(TypedDict):
    """The computed outputs (``None`` until created)."""

    smUrl: str | None
    clientId: str | None
    # Set by create only: whether this stack created the admin binding (else adopted it).
    created: NotRequired[bool | None]
    adopted: NotRequired[bool | None]
    tenants: list[str] | None


# timeoutSeconds and takeOwnership only change how we wait and what delete keeps: an update that calls no API.
SPEC = ResourceSpec.of(
    ServiceManagerAccessInputs,
    ServiceManagerAccessOutputs,
    replace_on=("subaccountId",),
    checks={
        "subaccountId": required_str,
        "tenant": required_str,
        "takeOwnership": optional_bool,
        "timeoutSeconds": optional_timeout,
    },
)


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

    spec = SPEC
    default_timeout = float(DEFAULT_TIMEOUTS["adminAccess"])

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
        return CreateResult(guid, {**SPEC.inputs_of(props), **_outputs(creds, tenants, created=created)})

    def _roll_back(self, guid: str) -> None:
        self.forget_service_manager(guid)
        try:
            self.accounts().delete_service_management_binding(guid, timeout=ROLLBACK_TIMEOUT)
        except Exception as err:  # best effort; the create's own error is what is raised
            log.warning("btp-infra: could not roll back the admin access of subaccount %s: %s", guid, err)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**olds, **SPEC.inputs_of(news)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        creds = self.accounts().get_service_management_binding(id_)
        if creds is None:  # gone (with the subaccount, or removed in the cockpit): `up` creates it again
            return ReadResult("", {})
        tenants = tenants_in(self.service_manager(id_, creds))
        return ReadResult(id_, {**props, **_outputs(creds, tenants)})

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


def _outputs(
    creds: ServiceManagerCredentials, tenants: list[str], *, created: bool | None = None
) -> ServiceManagerAccessOutputs:
    """What state records of the admin binding (never its secret), whether this stack created it (``None``:
    not known here, a read keeps what state has) and the tenants found using it."""
    if created is None:
        return {"smUrl": creds.sm_url, "clientId": creds.clientid, "tenants": tenants}
    return {
        "smUrl": creds.sm_url,
        "clientId": creds.clientid,
        "created": created,
        "adopted": not created,
        "tenants": tenants,
    }


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
        inputs: ServiceManagerAccessInputs = {
            "subaccountId": subaccount_id,
            "tenant": tenant,
            "takeOwnership": take_ownership,
            "timeoutSeconds": timeout_seconds,
        }
        super().__init__(ServiceManagerAccessProvider(), name, SPEC.props(inputs), opts)
