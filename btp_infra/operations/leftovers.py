"""After an offboarding destroy: what Service Manager still holds in the tenant's subaccount.

:func:`confirm_subaccount` asks Service Manager, with admin access, whether the tenant's operator-access
instance and binding are gone (found by their names, ``conventions.instance_name``/``binding_name``, and by
btp-infra's tenant labels: a rotated binding has another name), and lists everything else still there —
instances and bindings by name, offering and plan, never credentials — so that nothing the operator or anyone
else made is silently left behind (user-pain-points.md B2: verify through SM that the subaccount is empty).

Admin access is what the destroy just removed (``ServiceManagerAccess.delete``), unless it was adopted
or is shared. The check does what a provider's delete does when it finds none
(``BtpProvider.cleanup_service_manager`` in btp_infra/providers/base.py): it takes the subaccount's
``serviceManagementBinding`` if it still exists (kept), else creates a temporary one (timeout
``conventions.TEMPORARY_ACCESS_TIMEOUT``) and deletes it again when done, whatever happened in between —
never leaving one behind. The admin access's own instance and binding (the ``subaccount-admin`` ones behind
the ``serviceManagementBinding``) are not leftovers. A subaccount that no longer exists holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.errors import BtpError, NotFoundError
from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.btp.keys import CisServiceKey, ServiceManagerCredentials
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import ServiceBinding, ServiceInstance, is_tenants
from btp_infra.conventions import CREDENTIAL_TYPES, TEMPORARY_ACCESS_TIMEOUT, binding_name, instance_name

__all__ = ["AdminAccess", "LeftoverCheckError", "SmObject", "SubaccountReport", "confirm_subaccount"]

#: The names BTP gives the instance and binding behind a ``serviceManagementBinding`` (btp-api.md C.3).
_ADMIN_INSTANCE_NAME: Final = "ServiceManagementAccessInstance"
_ADMIN_BINDING_NAME: Final = "ServiceManagementAccessBinding"

AdminAccess = Literal["kept", "temporary", "gone"]
"""How the check got admin access: the binding still existed (``kept``: adopted or shared, the destroy kept
it), a ``temporary`` one was created and removed again, or the subaccount is ``gone`` (no access needed)."""


class LeftoverCheckError(Exception):
    """The check could not be made, or its temporary admin access could not be removed (one line, no
    secret; the message says what to do)."""


@dataclass(frozen=True)
class SmObject:
    """One Service Manager instance or binding as reported: name, id, offering/plan (of its instance, for a
    binding) — never credentials."""

    kind: Literal["instance", "binding"]
    name: str
    id: str
    offering: str
    plan: str
    instance: str | None = None  # a binding's instance name

    def describe(self) -> str:
        where = f" of instance {self.instance}" if self.instance else ""
        return f"{self.kind} {self.name} ({self.offering}/{self.plan}{where}, id {self.id})"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "name": self.name,
            "id": self.id,
            "offering": self.offering,
            "plan": self.plan,
        }
        if self.instance is not None:
            out["instance"] = self.instance
        return out


@dataclass(frozen=True)
class SubaccountReport:
    """What Service Manager holds after the destroy.

    ``operator_access``: the tenant's own operator-access instance/binding (or anything labelled with the
    tenant) still there — the destroy did not finish its job. ``adopted``: those of them the stack adopted
    (they existed before it, so the destroy keeps them unless ``takeOwnership``). ``others``: anything else in
    the subaccount (not btp-infra's), reported for a human to decide."""

    subaccount_id: str
    admin_access: AdminAccess
    operator_access: tuple[SmObject, ...] = ()
    others: tuple[SmObject, ...] = field(default=())
    adopted: tuple[SmObject, ...] = ()

    @property
    def subaccount_gone(self) -> bool:
        return self.admin_access == "gone"

    @property
    def clean(self) -> bool:
        return not self.operator_access

    def lines(self) -> list[str]:
        """The report, one line per finding."""
        if self.subaccount_gone:
            return [f"subaccount {self.subaccount_id} no longer exists: nothing is left in it"]
        access = {
            "kept": "its Service Manager admin access still exists (kept: adopted or shared)",
            "temporary": "checked with temporary admin access, removed again",
        }[self.admin_access]
        out: list[str] = []
        if self.operator_access:
            out.append(
                f"NOT GONE in subaccount {self.subaccount_id}: "
                + "; ".join(o.describe() for o in self.operator_access)
                + " — run destroy again (or delete them in the BTP cockpit)"
            )
        elif self.adopted:
            out.append(
                f"confirmed through Service Manager: nothing the stack owned is left in subaccount "
                f"{self.subaccount_id} ({access})"
            )
        else:
            out.append(
                f"confirmed through Service Manager: the operator-access instance and binding are gone from "
                f"subaccount {self.subaccount_id} ({access})"
            )
        if self.adopted:
            out.append(
                f"kept in subaccount {self.subaccount_id} (adopted: it existed before the stack; set "
                "btp-infra:takeOwnership to delete it with the stack): "
                + "; ".join(o.describe() for o in self.adopted)
            )
        if self.others:
            out.append(
                f"left in subaccount {self.subaccount_id} (not created by btp-infra for this tenant; review "
                "before deleting the subaccount): " + "; ".join(o.describe() for o in self.others)
            )
        else:
            out.append(f"nothing else is left in subaccount {self.subaccount_id}")
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.subaccount_id,
            "gone": self.subaccount_gone,
            "adminAccess": self.admin_access,
            "operatorAccessRemaining": [o.to_json() for o in self.operator_access],
            "adoptedKept": [o.to_json() for o in self.adopted],
            "leftovers": [o.to_json() for o in self.others],
        }


SmFactory = Callable[[ServiceManagerCredentials], ServiceManagerClient]


def confirm_subaccount(
    key: CisServiceKey,
    subaccount_id: str,
    namespace: str,
    *,
    retry_policy: RetryPolicy | None = None,
    poll_policy: PollPolicy | None = None,
    sm_factory: SmFactory | None = None,
    adopted: Collection[str] = (),
) -> SubaccountReport:
    """What is left in ``subaccount_id`` after tenant ``namespace`` was destroyed (see the module docstring).
    ``adopted``: names of the tenant's SM objects the stack adopted (kept by the destroy, not a failure).

    :class:`LeftoverCheckError` when it cannot tell (no access, API errors) or when a temporary admin access
    could not be removed again (the message names it and how to remove it)."""

    def make_sm(creds: ServiceManagerCredentials) -> ServiceManagerClient:
        if sm_factory is not None:
            return sm_factory(creds)
        return ServiceManagerClient(creds, retry_policy=retry_policy, poll_policy=poll_policy)

    with AccountsClient(key, retry_policy=retry_policy, poll_policy=poll_policy) as accounts:
        try:
            creds = accounts.get_service_management_binding(subaccount_id)
            if creds is None:
                try:
                    accounts.get_subaccount(subaccount_id)
                except NotFoundError:
                    return SubaccountReport(subaccount_id, "gone")
                return _with_temporary_access(accounts, subaccount_id, namespace, make_sm, adopted)
        except LeftoverCheckError:
            raise
        except BtpError as err:
            raise LeftoverCheckError(
                f"could not check subaccount {subaccount_id} through Service Manager: {err}"
            ) from None
        return _report(make_sm, creds, subaccount_id, namespace, "kept", adopted)


def _with_temporary_access(
    accounts: AccountsClient,
    subaccount_id: str,
    namespace: str,
    make_sm: Callable[[ServiceManagerCredentials], ServiceManagerClient],
    adopted: Collection[str],
) -> SubaccountReport:
    # ensure_…: a binding someone creates meanwhile (409) is used, not created, and then not deleted.
    creds, created = accounts.ensure_service_management_binding(
        subaccount_id, timeout=TEMPORARY_ACCESS_TIMEOUT
    )
    failure: BaseException | None = None
    try:
        access: AdminAccess = "temporary" if created else "kept"
        return _report(make_sm, creds, subaccount_id, namespace, access, adopted)
    except BaseException as err:
        failure = err
        raise
    finally:
        if created:
            try:
                accounts.delete_service_management_binding(subaccount_id, timeout=TEMPORARY_ACCESS_TIMEOUT)
            except BtpError as err:
                message = (
                    f"the temporary Service Manager admin access of subaccount {subaccount_id} could not be "
                    f"removed: {err}; remove it with DELETE /accounts/v1/subaccounts/{subaccount_id}/"
                    "serviceManagementBinding (or in the BTP cockpit)"
                )
                if failure is None:
                    raise LeftoverCheckError(message) from None
                raise LeftoverCheckError(f"{failure}; and {message}") from None


def _report(
    make_sm: Callable[[ServiceManagerCredentials], ServiceManagerClient],
    creds: ServiceManagerCredentials,
    subaccount_id: str,
    namespace: str,
    access: AdminAccess,
    adopted: Collection[str],
) -> SubaccountReport:
    try:
        with make_sm(creds) as sm:
            instances = sm.list_instances()
            bindings = sm.list_bindings()
            plans = {p.id: p for p in sm.list_plans()}
            offerings = {o.id: o.name for o in sm.list_offerings()}
    except BtpError as err:
        raise LeftoverCheckError(
            f"could not list what Service Manager holds in subaccount {subaccount_id}: {err}"
        ) from None

    def plan_of(instance: ServiceInstance | None) -> tuple[str, str]:
        plan = plans.get(instance.service_plan_id) if instance is not None else None
        if plan is None:
            return "?", "?"
        return offerings.get(plan.service_offering_id, plan.catalog_name or "?"), plan.name

    by_id = {i.id: i for i in instances}
    # The admin access itself: the binding whose client is the admin credentials' (or, where a listing
    # carries no credentials, the one BTP names so), and its instance.
    admin_bindings = {
        b.id for b in bindings if _client_id(b) == creds.clientid or b.name == _ADMIN_BINDING_NAME
    }
    admin_instances = {b.service_instance_id for b in bindings if b.id in admin_bindings} | {
        i.id for i in instances if i.name == _ADMIN_INSTANCE_NAME
    }
    own_instance_name = instance_name(namespace)
    own_binding_names = {binding_name(namespace, t) for t in CREDENTIAL_TYPES}
    own_instances = {
        i.id for i in instances if i.name == own_instance_name or is_tenants(i, namespace)
    } - admin_instances

    def as_object(entity: ServiceInstance | ServiceBinding) -> SmObject:
        if isinstance(entity, ServiceInstance):
            offering, plan = plan_of(entity)
            return SmObject("instance", entity.name, entity.id, offering, plan)
        parent = by_id.get(entity.service_instance_id)
        offering, plan = plan_of(parent)
        return SmObject(
            "binding",
            entity.name,
            entity.id,
            offering,
            plan,
            parent.name if parent is not None else entity.service_instance_id,
        )

    own: list[SmObject] = []
    others: list[SmObject] = []
    for binding in bindings:
        if binding.id in admin_bindings:
            continue
        mine = (
            binding.service_instance_id in own_instances
            or binding.name in own_binding_names
            or is_tenants(binding, namespace)
        )
        (own if mine else others).append(as_object(binding))
    for instance in instances:
        if instance.id in admin_instances:
            continue
        (own if instance.id in own_instances else others).append(as_object(instance))
    kept = [o for o in own if o.name in adopted]
    failed = [o for o in own if o.name not in adopted]
    return SubaccountReport(subaccount_id, access, _sorted(failed), _sorted(others), _sorted(kept))


def _client_id(binding: ServiceBinding) -> str | None:
    value = binding.credentials.get_secret_value().get("clientid")
    return value if isinstance(value, str) else None


def _sorted(objects: Iterable[SmObject]) -> tuple[SmObject, ...]:
    # Bindings before instances (the order they would have to be deleted in), then by name.
    return tuple(sorted(objects, key=lambda o: (o.kind != "binding", o.name, o.id)))
