"""``btp-infra tenant adopt``: find what a hand-made tenant consists of, write its stack file, say what next.

Owns the discovery of a tenant set up by hand — through BTP, the subaccount, its
``service-manager/service-operator-access`` instances and their bindings, the operator entitlement; through
the Kubernetes API (a :class:`ClusterView`), the namespace and its labels and the operator Secret where the
placement puts it — the decision of what the ``btp-infra:adopt`` block takes over, the refusals that protect
a running tenant, and the exact next steps.

What it protects (docs/migration.md, btp-api.md §A):

- The Secret's credentials must belong to a binding of an operator-access instance *in this subaccount*
  (matched by ``clientid``, which is never printed). If they do not, the namespace's ServiceInstances live
  in another subaccount; writing other credentials into the Secret would make the operator look for them in
  this one, report them ``NotFound`` and, on delete, orphan the real ones (§A.3). Refused.
- A namespace that exists without an operator Secret has been served by the cluster's default credentials
  (§A.1 step 3): its ServiceInstances live in the cluster's subaccount, and a Secret for this subaccount
  would strand them the same way. Refused while the namespace holds any; an empty one is imported and gets
  the stack's Secret.
- Several operator-access instances or bindings that could be the tenant's: refused, listing them, until the
  caller names one (``instance_id``/``binding_id``).

Reading is all it does in BTP, with one exception said out loud: without Service Manager admin access in the
subaccount (the cockpit does not need one), it borrows one to list the instances and deletes it again. The
stack file is written with :func:`btp_infra.tenants.add_tenant` (validated by the real loader and the fleet
rules, never overwriting a file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.errors import NotFoundError
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import ServiceBinding, ServiceInstance, quote
from btp_infra.config import parse_config
from btp_infra.conventions import (
    DEFAULT_MANAGEMENT_NAMESPACE,
    OPERATOR_OFFERING,
    OPERATOR_PLAN,
    TEMPORARY_ACCESS_TIMEOUT,
    config_key,
)
from btp_infra.kube import Namespace, OperatorKind, OperatorObject, Secret
from btp_infra.operator_secret import secret_data, secret_name, secret_namespace

__all__ = [
    "AdoptError",
    "AdoptPlan",
    "ClusterView",
    "Found",
    "adopt_block",
    "discover",
    "next_steps",
    "write_stack_file",
]

Placement = Literal["namespace", "management"]
CredentialType = Literal["client-secret", "x509"]


class AdoptError(Exception):
    """Adoption is refused: one line per reason, each naming what was found and what to do."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("\n".join(reasons))
        self.reasons = list(reasons)


class ClusterView(Protocol):
    """What ``tenant adopt`` reads from the cluster: :class:`btp_infra.kube.KubeClient` on the stack's
    kubeconfig and context (the stand-in API in tests)."""

    def get_namespace(self, name: str) -> Namespace | None:
        """The namespace, or ``None`` when it does not exist."""

    def get_secret(self, namespace: str, name: str) -> Secret | None:
        """The Secret (``data`` decoded), or ``None`` when it does not exist."""

    def list_operator_objects(
        self, kind: OperatorKind, namespace: str | None = None, label_selector: str | None = None
    ) -> list[OperatorObject]:
        """The operator's ``ServiceInstance``/``ServiceBinding`` objects of a namespace."""


def _clientid_of(secret: Secret) -> str | None:
    return secret.data.get("clientid") or None


@dataclass(frozen=True)
class Found:
    """One existing object: what it is, its id and name (for the adopt block and the report)."""

    kind: str
    id: str
    name: str


@dataclass
class AdoptPlan:
    """What was found and what the stack file takes over."""

    namespace: str
    subaccount_id: str
    placement: Placement
    management_namespace: str
    credential_type: CredentialType
    instance: Found | None = None
    binding: Found | None = None
    namespace_exists: bool | None = None  # None: the cluster was not asked
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    secret: Found | None = None
    #: The Secret's content is already what btp-infra writes from the binding (else: rewritten in place with
    #: the same credentials).
    secret_unchanged: bool | None = None
    entitlement_state: str | None = None
    #: Further plans the caller asked to keep managing, as the stack file declares them (with the amount
    #: found, so that ``up`` changes nothing); each is adopted by its provider (kept on destroy).
    entitlements: list[dict[str, object]] = field(default_factory=list)
    admin_access: bool = False
    borrowed_admin_access: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def imports(self) -> list[str]:
        found = ["namespace"] if self.namespace_exists else []
        return found + (["secret"] if self.secret is not None else [])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (ids and names only; never a credential, not even the clientid)."""

        def found(item: Found | None) -> dict[str, str] | None:
            return None if item is None else {"id": item.id, "name": item.name}

        return {
            "namespace": self.namespace,
            "subaccountId": self.subaccount_id,
            "secretPlacement": self.placement,
            "credentialType": self.credential_type,
            "instance": found(self.instance),
            "binding": found(self.binding),
            "namespaceExists": self.namespace_exists,
            "secret": found(self.secret),
            "secretUnchanged": self.secret_unchanged,
            "operatorEntitlement": self.entitlement_state,
            "entitlements": list(self.entitlements),
            "adminAccess": self.admin_access,
            "borrowedAdminAccess": self.borrowed_admin_access,
            "adopt": adopt_block(self),
            "notes": list(self.notes),
        }


def adopt_block(plan: AdoptPlan) -> dict[str, object] | None:
    """The ``btp-infra:adopt`` value for what was found (``None``: nothing to adopt)."""
    block: dict[str, object] = {}
    if plan.instance is not None:
        block |= {"instanceId": plan.instance.id, "instanceName": plan.instance.name}
    if plan.binding is not None:
        block |= {"bindingId": plan.binding.id, "bindingName": plan.binding.name}
    if plan.imports:
        block["import"] = plan.imports
    return block or None


def _check_input(
    namespace: str, subaccount_id: str, placement: str, management_namespace: str, source: str
) -> None:
    """Bad input is one line per problem (file, key, value, what is valid) before any API call."""
    values: dict[str, object] = {"namespace": namespace, "subaccountId": subaccount_id}
    values["secretPlacement"] = placement
    if management_namespace != DEFAULT_MANAGEMENT_NAMESPACE:
        values["managementNamespace"] = management_namespace
    parse_config(values, source=source)


def discover(
    cis_key: CisServiceKey,
    *,
    namespace: str,
    subaccount_id: str,
    placement: Placement = "namespace",
    management_namespace: str = DEFAULT_MANAGEMENT_NAMESPACE,
    cluster: ClusterView | None = None,
    instance_id: str | None = None,
    binding_id: str | None = None,
    plans: Sequence[tuple[str, str]] = (),
    source: str = "<command line>",
) -> AdoptPlan:
    """What exists of the tenant, and what of it the stack takes over; :class:`AdoptError` when adopting
    would interrupt the tenant or is ambiguous. ``cluster`` None: the Kubernetes side is not checked.
    ``plans``: further entitlements (service, plan) the stack is to manage; each must be assigned already."""
    _check_input(namespace, subaccount_id.lower(), placement, management_namespace, source)
    guid = subaccount_id.lower()
    plan = AdoptPlan(namespace, guid, placement, management_namespace, "client-secret")
    secret = _discover_cluster(plan, cluster)
    with AccountsClient(cis_key) as accounts, EntitlementsClient(cis_key) as entitlements_api:
        try:
            accounts.get_subaccount(guid)
        except NotFoundError:
            raise AdoptError(
                [
                    f"subaccount {guid}: not found in the global account of the cis key; "
                    "valid: a subaccount GUID from the BTP cockpit of that global account"
                ]
            ) from None
        _discover_entitlements(plan, entitlements_api, plans)
        assignment = entitlements_api.get_assignment(guid, OPERATOR_OFFERING, OPERATOR_PLAN)
        plan.entitlement_state = assignment.entity_state if assignment is not None else None
        if assignment is None:
            plan.notes.append(
                f"{OPERATOR_OFFERING}/{OPERATOR_PLAN} is not entitled: nothing of the operator access exists "
                "yet; the stack will entitle it and create the instance and binding"
            )
            _refuse_stranding(plan, secret, None, cluster)
            return plan
        with _service_manager(accounts, guid, plan) as sm:
            instance = _pick_instance(sm, guid, instance_id)
            bindings = (
                sm.list_bindings(field_query=f"service_instance_id eq {quote(instance.id)}")
                if instance
                else []
            )
        if instance is not None:
            plan.instance = Found("instance", instance.id, instance.name)
            binding = _pick_binding(instance, bindings, secret, binding_id)
            if binding is not None:
                plan.binding = Found("binding", binding.id, binding.name)
                plan.credential_type = binding.binding_credentials().credential_type
                if secret is not None:
                    plan.secret = Found("secret", f"{secret.namespace}/{secret.name}", secret.name)
                    expected = secret_data(binding.credentials.get_secret_value(), plan.credential_type)
                    plan.secret_unchanged = dict(secret.data) == expected
        _refuse_stranding(plan, secret, instance, cluster)
    return plan


def _discover_entitlements(
    plan: AdoptPlan, api: EntitlementsClient, plans: Sequence[tuple[str, str]]
) -> None:
    """Each further plan as the stack file declares it: with the amount found (numeric quotas), so that
    ``up`` assigns nothing new; a plan the subaccount does not have is refused (adopting entitles nothing)."""
    missing: list[str] = []
    for service, plan_name in plans:
        found = api.get_assignment(plan.subaccount_id, service, plan_name)
        if found is None:
            missing.append(
                f"entitlement {service}/{plan_name}: is not assigned to subaccount {plan.subaccount_id}; "
                "valid: an entitlement the subaccount has (new ones go into the stack file later)"
            )
            continue
        entry: dict[str, object] = {"service": service, "plan": plan_name}
        if found.has_numeric_quota and found.amount is not None:
            entry["amount"] = int(found.amount)
        plan.entitlements.append(entry)
    if missing:
        raise AdoptError(missing)


def _discover_cluster(plan: AdoptPlan, cluster: ClusterView | None) -> Secret | None:
    if cluster is None:
        plan.notes.append(
            "the cluster was not asked (no kube context): the Namespace and the Secret are not "
            "imported; give --kube-context to check them"
        )
        return None
    found = cluster.get_namespace(plan.namespace)
    plan.namespace_exists = found is not None
    plan.namespace_labels = dict(found.labels) if found is not None else {}
    where_ns = secret_namespace(plan.namespace, plan.placement, plan.management_namespace)
    secret = cluster.get_secret(where_ns, secret_name(plan.namespace, plan.placement))
    if plan.placement == "management" and plan.namespace_exists:
        shadow = cluster.get_secret(plan.namespace, secret_name(plan.namespace, "namespace"))
        if shadow is not None:
            raise AdoptError(
                [
                    f"secret {plan.namespace}/{shadow.name}: exists in the tenant namespace and shadows the "
                    "management-namespace Secret (the operator resolves the namespace Secret first, "
                    "btp-api.md §A.1); valid: --secret-placement namespace, or delete it after checking its "
                    "credentials"
                ]
            )
    if secret is not None and secret.type != "Opaque":
        raise AdoptError(
            [
                f"secret {secret.namespace}/{secret.name}: is of type {secret.type!r}; "
                "valid: an Opaque Secret (btp-infra writes Opaque; a different type would have to be "
                "replaced, never imported)"
            ]
        )
    return secret


class _service_manager:
    """The subaccount's SM client: its admin access, or admin access borrowed for the reads and deleted."""

    def __init__(self, accounts: AccountsClient, guid: str, plan: AdoptPlan) -> None:
        self.accounts, self.guid, self.plan = accounts, guid, plan
        self.client: ServiceManagerClient | None = None

    def __enter__(self) -> ServiceManagerClient:
        creds = self.accounts.get_service_management_binding(self.guid)
        self.plan.admin_access = creds is not None
        if creds is None:
            creds = self.accounts.create_service_management_binding(
                self.guid, timeout=TEMPORARY_ACCESS_TIMEOUT
            )
            self.plan.borrowed_admin_access = True
            self.plan.notes.append(
                "the subaccount had no Service Manager admin access: borrowed one for the reads and "
                "deleted it again (the stack creates its own)"
            )
        self.client = ServiceManagerClient(creds)
        return self.client

    def __exit__(self, *_exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.plan.borrowed_admin_access:
            self.accounts.delete_service_management_binding(self.guid, timeout=TEMPORARY_ACCESS_TIMEOUT)


def _pick_instance(sm: ServiceManagerClient, guid: str, instance_id: str | None) -> ServiceInstance | None:
    try:
        plan = sm.find_plan(OPERATOR_OFFERING, OPERATOR_PLAN)
    except NotFoundError:
        return None
    candidates = sm.list_instances(field_query=f"service_plan_id eq {quote(plan.id)}")
    if instance_id is not None:
        return _by_id(
            candidates,
            "--instance-id",
            instance_id,
            f"{OPERATOR_OFFERING}/{OPERATOR_PLAN} instance of subaccount {guid}",
        )
    if len(candidates) > 1:
        raise AdoptError(
            [
                f"subaccount {guid}: has {len(candidates)} {OPERATOR_OFFERING}/{OPERATOR_PLAN} instances "
                f"({_listed(candidates)}); valid: --instance-id of the tenant's one"
            ]
        )
    return candidates[0] if candidates else None


def _pick_binding(
    instance: ServiceInstance,
    bindings: list[ServiceBinding],
    secret: Secret | None,
    binding_id: str | None,
) -> ServiceBinding | None:
    if binding_id is not None:
        binding = _by_id(
            bindings, "--binding-id", binding_id, f"binding of instance {instance.name} ({instance.id})"
        )
        if secret is not None and _clientid_of(secret) != _clientid(binding):
            raise AdoptError([_foreign_secret(secret, f"binding {binding.name} ({binding.id})")])
        return binding
    if secret is not None:
        matching = [b for b in bindings if _clientid(b) == _clientid_of(secret)]
        if not matching:
            raise AdoptError(
                [_foreign_secret(secret, f"any binding of instance {instance.name} ({instance.id})")]
            )
        return matching[0]
    if len(bindings) > 1:
        raise AdoptError(
            [
                f"instance {instance.name} ({instance.id}): has {len(bindings)} bindings "
                f"({_listed(bindings)}) and no operator Secret was read to tell which one is in use; "
                "valid: --binding-id, or --kube-context"
            ]
        )
    return bindings[0] if bindings else None


def _clientid(binding: ServiceBinding) -> str | None:
    value = binding.credentials.get_secret_value().get("clientid")
    return str(value) if value else None


def _foreign_secret(secret: Secret, what: str) -> str:
    return (
        f"secret {secret.namespace}/{secret.name}: its credentials (clientid) are not those of {what} in "
        "this subaccount; its namespace's ServiceInstances live where those credentials point, and other "
        "credentials would make the operator lose them (btp-api.md §A.3); valid: the subaccount those "
        "credentials belong to (--subaccount), or --binding-id of the binding they come from"
    )


def _refuse_stranding(
    plan: AdoptPlan, secret: Secret | None, instance: ServiceInstance | None, cluster: ClusterView | None
) -> None:
    if secret is not None and instance is None:
        raise AdoptError([_foreign_secret(secret, f"any {OPERATOR_OFFERING}/{OPERATOR_PLAN} binding")])
    if not plan.namespace_exists or secret is not None or cluster is None:
        return
    served = cluster.list_operator_objects("ServiceInstance", plan.namespace)
    if served:
        where = secret_namespace(plan.namespace, plan.placement, plan.management_namespace)
        names = ", ".join(o.name for o in served[:5]) + (", …" if len(served) > 5 else "")
        raise AdoptError(
            [
                f"namespace {plan.namespace}: has {len(served)} ServiceInstance(s) ({names}) but no operator "
                f"Secret ({where}/{secret_name(plan.namespace, plan.placement)}), so the operator serves "
                "them with the cluster's default credentials and they live in the cluster's subaccount; "
                "a Secret for this subaccount would strand them (btp-api.md §A.3); valid: move them first "
                "(docs/migration.md), then adopt"
            ]
        )
    plan.notes.append(
        f"namespace {plan.namespace} has no operator Secret and no ServiceInstance: it is imported and the "
        "stack writes its Secret (destroy removes that Secret again and keeps the namespace)"
    )


_Found = TypeVar("_Found", ServiceInstance, ServiceBinding)


def _listed(items: Sequence[ServiceInstance | ServiceBinding]) -> str:
    return ", ".join(f"{i.name} ({i.id})" for i in items) or "none"


def _by_id(items: Sequence[_Found], option: str, id_: str, what: str) -> _Found:
    """The item whose id is ``id_`` (given as ``option``, any case), else the refusal listing the others."""
    chosen = [i for i in items if i.id == id_.lower()]
    if not chosen:
        raise AdoptError([f"{option} {id_}: is no {what}; valid: one of {_listed(items)}"])
    return chosen[0]


def write_stack_file(
    name: str,
    plan: AdoptPlan,
    *,
    stacks_dir: str | Path,
    stack: str | None = None,
    kube_context: str | None = None,
    kubeconfig: str | None = None,
    keyring_profile: str | None = None,
) -> Path:
    """The stack file of the adopted tenant (refused, writing nothing, when one exists or it does not
    validate): :class:`~btp_infra.tenants.TenantError`."""
    from btp_infra.tenants import add_tenant

    return add_tenant(
        name,
        namespace=plan.namespace,
        subaccount_id=plan.subaccount_id,
        stacks_dir=stacks_dir,
        stack=stack,
        kube_context=kube_context,
        kubeconfig=kubeconfig,
        keyring_profile=keyring_profile,
        credential_type=plan.credential_type if plan.credential_type != "client-secret" else None,
        secret_placement=plan.placement if plan.placement != "namespace" else None,
        management_namespace=(
            plan.management_namespace if plan.management_namespace != DEFAULT_MANAGEMENT_NAMESPACE else None
        ),
        entitlements=plan.entitlements or None,
        adopt=adopt_block(plan),
    )


def next_steps(plan: AdoptPlan, stack: str, path: Path | None) -> list[str]:
    """The exact steps after the stack file, and what each must show."""
    adopted = ", ".join(
        x
        for x in (
            plan.instance and f"instance {plan.instance.name}",
            plan.binding and f"binding {plan.binding.name}",
            "namespace" in plan.imports and f"namespace {plan.namespace}",
            plan.secret and f"secret {plan.secret.id}",
        )
        if x
    )
    steps = [
        f"{'wrote' if path else 'would write'} {path or 'the stack file'} with {config_key('adopt')}"
        + (f" ({adopted})" if adopted else " (nothing found to adopt: the stack creates everything)"),
        f"1. btp-infra preview --stack {stack}",
        "   expect: the Namespace and the Secret as 'import' then 'update' (btp-infra's labels added"
        + (
            "; the Secret's stringData written with the credentials it already holds)" if plan.secret else ")"
        ),
        "   the instance and binding as 'create' in the stack's state only: the providers find the existing "
        "objects and never POST them (a dynamic provider cannot be imported: it is found by its create)",
        "   never a 'delete' or 'replace' of an existing object: stop if the preview shows one",
        f"2. btp-infra up --stack {stack}",
        f"3. btp-infra preview --stack {stack}   (expect no changes)",
        f"adopted objects are kept on destroy unless {config_key('takeOwnership')}: true",
    ]
    if plan.secret is not None and plan.secret_unchanged is False:
        steps.insert(
            2,
            "   note: the Secret's keys differ from what btp-infra writes (same credentials); it is "
            "updated in place, never deleted",
        )
    return steps
