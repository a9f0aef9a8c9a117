"""``Subaccount``: a subaccount the tenant stack creates, keeps in shape and deletes (btp-api.md §C.3a).

The alternative to :class:`~btp_infra.providers.subaccount.SubaccountCheck` (which only reads a subaccount
made in the cockpit) for stacks with a ``btp-infra:subaccount`` block. It is the first resource of such a
tenant, so it also refuses a renamed tenant (``namespace``) in ``check``, like the check does.

Identity. The subaccount carries the labels ``btp-infra.tenant: <namespace>`` and ``btp-infra.managed-by:
btp-infra`` (the Service Manager objects' labels, :data:`~btp_infra.conventions.SM_TENANT_LABEL`). They make
"exactly one subaccount per tenant" hold after any crash: ``create`` looks for a subaccount with them before
it writes, after a lost response (:func:`~btp_infra.btp._base.create_without_duplicates`) and after a
subdomain conflict, and adopts the one it finds when subdomain and region match; a subdomain taken by a
subaccount without them is a clear error, never an adoption. An adopted subaccount is this tenant's own (the
labels say btp-infra created it for this tenant), so it is owned: destroy deletes it.

Changes. Display name, labels and ``usedForProduction`` change in place (``PATCH``); refresh reads them
back, so drift shows and the next ``up`` corrects it. Subdomain and region cannot change (§C.3a): a change
replaces the subaccount, delete first (the new one would otherwise clash with the old one's identity
labels). ``check`` records such a change in the checked inputs as ``identityChange``; the engine runs the
analyzers on the checked inputs (``pkg/resource/deploy/step_generator.go``: ``generateSteps`` sets
``inputs = resp.Properties`` after ``Check``, then ``analyzeAll(…, inputs, …)``), so the mandatory policy
``btp-subaccount-replacement`` sees it and refuses it unless ``allowReplacement``
(``btp-infra:allowSubaccountReplacement``). ``parentDirectory`` is not moved by btp-infra: a changed value is
accepted once the subaccount was moved there (cockpit, ``btp move accounts/subaccount``).

Delete: "deplete, then delete" (user-pain-points.md B4). Only an empty subaccount is deleted — never with
``forceDelete``: Service Manager (borrowing temporary admin access when the tenant's own is gone, as every
delete does, :meth:`~btp_infra.providers.base.BtpProvider.cleanup_service_manager`) and the Entitlements API
must show nothing left but what BTP manages itself; otherwise delete refuses, listing what is left. A
subaccount marked ``usedForProduction`` is refused too (and the component protects it): set
``usedForProduction: false``, ``pulumi up``, then destroy. A subaccount already gone counts as deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

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

from btp_infra.btp.accounts import USED_FOR_PRODUCTION, AccountsClient
from btp_infra.btp.accounts import Subaccount as LiveSubaccount
from btp_infra.btp.errors import BtpError, ConflictError, NotFoundError, OperationFailedError
from btp_infra.btp.http import Deadline
from btp_infra.conventions import (
    IDENTITY_CHANGE_KEY,
    PROJECT,
    ROLLBACK_TIMEOUT,
    SM_ADMIN_BINDING_NAME,
    SM_ADMIN_INSTANCE_NAME,
    SM_MANAGED_BY_LABEL,
    SM_TENANT_LABEL,
    SUBACCOUNT_TIMEOUT,
    SUBDOMAIN_RE,
)
from btp_infra.providers.base import BtpProvider, contains_unknowns, is_unknown, log
from btp_infra.providers.spec import ResourceSpec, optional_bool, optional_timeout, required_str, sm_labels
from btp_infra.providers.subaccount import rename_failure

__all__ = [
    "IDENTITY_CHANGE_KEY",
    "IDENTITY_KEYS",
    "Subaccount",
    "SubaccountNotEmptyError",
    "SubaccountProvider",
    "identity_labels",
]

#: Inputs that cannot change in place (btp-api.md §C.3a; TF marks them RequiresReplace).
IDENTITY_KEYS = ("subdomain", "region")
#: Subaccount states in which it is on its way out.
_GOING = ("DELETING",)


def _going(sub: LiveSubaccount) -> bool:
    """Deleting, or deleted but restorable (pending deletion): gone for offboarding, a conflict for
    onboarding (user-pain-points.md B4, E4)."""
    return sub.state in _GOING or sub.pending_deletion


class SubaccountInputs(TypedDict):
    """The inputs, by their names in state."""

    displayName: str
    subdomain: str
    region: str
    parentDirectory: str | None
    #: The stack's own labels (the identity labels are added on the wire, never stored here).
    labels: dict[str, list[str]]
    usedForProduction: bool
    namespace: str
    #: The plans the stack entitles (``service/plan``): what is left of them goes with the subaccount.
    ownedPlans: list[str]
    allowReplacement: bool
    timeoutSeconds: float | None


class SubaccountOutputs(TypedDict):
    """The computed outputs (``None`` until created)."""

    subaccountId: str | None
    state: str | None
    parentGuid: str | None
    #: Every label as BTP has it (identity labels included), for drift.
    liveLabels: dict[str, list[str]] | None
    #: Set by create only: this create found the tenant's subaccount (a crashed run's) instead of making it.
    recovered: NotRequired[bool | None]


def _subdomain(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    value = news.get(key)
    if is_unknown(value):
        return
    if not isinstance(value, str) or not SUBDOMAIN_RE.fullmatch(value):
        failures.append(
            CheckFailure(
                key,
                f"{key} must be lower-case letters, digits and hyphens, at most 63, no hyphen at either end; "
                f"got {value!r}",
            )
        )


def _plan_list(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    value = news.get(key)
    if value is None or contains_unknowns(value):
        return
    if not isinstance(value, list) or not all(isinstance(v, str) and "/" in v for v in value):
        failures.append(CheckFailure(key, f"{key} must be a list of 'service/plan' strings, got {value!r}"))


SPEC = ResourceSpec.of(
    SubaccountInputs,
    SubaccountOutputs,
    replace_on=IDENTITY_KEYS,
    checks={
        "displayName": required_str,
        "subdomain": _subdomain,
        "region": required_str,
        "labels": sm_labels,
        "usedForProduction": optional_bool,
        "namespace": required_str,
        "ownedPlans": _plan_list,
        "allowReplacement": optional_bool,
        "timeoutSeconds": optional_timeout,
    },
)


class SubaccountNotEmptyError(BtpError):
    """Delete refused: the subaccount still holds something besides what BTP manages itself."""


def identity_labels(namespace: str) -> dict[str, str]:
    """The labels that say a subaccount is this tenant's, made by btp-infra."""
    return {SM_TENANT_LABEL: namespace, SM_MANAGED_BY_LABEL: PROJECT}


def _wire_labels(props: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every label the subaccount should carry: the stack's, then the identity labels."""
    own = props.get("labels") or {}
    labels = {str(k): list(v) for k, v in own.items() if k not in (SM_TENANT_LABEL, SM_MANAGED_BY_LABEL)}
    labels.update({k: [v] for k, v in identity_labels(str(props["namespace"])).items()})
    return labels


def _user_labels(labels: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {k: list(v) for k, v in labels.items() if k not in (SM_TENANT_LABEL, SM_MANAGED_BY_LABEL)}


def _production(sub: LiveSubaccount) -> bool | None:
    """The live ``usedForProduction`` as a bool (``None``: BTP says neither, e.g. ``UNSET``)."""
    for flag, wire in USED_FOR_PRODUCTION.items():
        if sub.used_for_production == wire:
            return flag
    return None


def identity_change(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The identity keys whose new value differs from the one in state (none on a first run or while
    unknown)."""
    changes: dict[str, dict[str, str]] = {}
    for key in IDENTITY_KEYS:
        before, after = olds.get(key), news.get(key)
        if isinstance(before, str) and before and isinstance(after, str) and before != after:
            changes[key] = {"from": before, "to": after}
    return changes


class SubaccountProvider(BtpProvider):
    """Creates (or finds after a crash), updates and deletes the tenant's own subaccount."""

    spec = SPEC
    default_timeout = float(SUBACCOUNT_TIMEOUT)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        renamed = rename_failure(olds, news)
        result = SPEC.check(news, *([] if renamed is None else [renamed]))
        inputs = {k: v for k, v in result.inputs.items() if k != IDENTITY_CHANGE_KEY}
        change = identity_change(olds, news)
        if change:
            inputs[IDENTITY_CHANGE_KEY] = change
        return CheckResult(inputs, result.failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Delete first: the new subaccount carries the tenant's identity labels, which the old one still has.
        result = SPEC.diff(olds, news, delete_before_replace=True)
        if result.changes:
            return result
        # Drift found by refresh: labels (identity labels included) or a state other than OK.
        live = olds.get("liveLabels")
        drifted = olds.get("state") not in (None, "OK") or (
            isinstance(live, Mapping) and not contains_unknowns(news) and dict(live) != _wire_labels(news)
        )
        return DiffResult(changes=drifted, replaces=[], delete_before_replace=False)

    # ---- create ------------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        accounts, timeout = self.accounts(), self.timeout_of(props)
        deadline = Deadline(timeout)
        found: list[LiveSubaccount] = []

        def lookup() -> LiveSubaccount | None:
            own = self._own(accounts, props)
            found.extend([own] if own is not None else [])
            return own

        sub = lookup()  # look before writing: a crashed run may have created it
        made_here = sub is None  # ... or this call does (its response may be lost and found by lookup)
        if sub is None:
            try:
                sub = accounts.create_subaccount(
                    display_name=props["displayName"],
                    subdomain=props["subdomain"],
                    region=props["region"],
                    labels=_wire_labels(props),
                    parent_guid=props.get("parentDirectory") or None,
                    used_for_production=props.get("usedForProduction") is True,
                    lookup=lookup,
                    timeout=timeout,
                )
            except ConflictError as err:
                sub = self._resolve_conflict(accounts, props, err)
                found.append(sub)
                made_here = False
        recovered = bool(found)  # the tenant's subaccount existed (a crashed run's, or a lost response)
        sub = self._settle(accounts, sub, props, deadline, made_here=made_here)
        if recovered:
            log.warning(
                "btp-infra: found subaccount %s (%s in %s) of tenant %s, created by an earlier run; "
                "adopted it",
                sub.guid,
                sub.subdomain,
                sub.region,
                props["namespace"],
            )
        outs = {**SPEC.inputs_of(props), **_outputs(sub), "recovered": recovered}
        return CreateResult(sub.guid, outs)

    def _own(self, accounts: AccountsClient, props: Mapping[str, Any]) -> LiveSubaccount | None:
        """The tenant's subaccount (identity labels), or ``None``; a clear error when the tenant already has
        one with another subdomain or region, or several (exactly one subaccount per tenant)."""
        namespace = str(props["namespace"])
        found = [s for s in accounts.find_subaccounts(identity_labels(namespace)) if not _going(s)]
        if not found:
            return None
        wanted = (props["subdomain"], props["region"])
        matching = [s for s in found if (s.subdomain, s.region) == wanted]
        if len(found) == 1 and matching:
            return matching[0]
        listed = ", ".join(f"{s.guid} ({s.subdomain} in {s.region}, {s.state})" for s in found)
        raise BtpError(
            f"tenant {namespace!r} already has subaccount(s) made by btp-infra: {listed}; a tenant has "
            "exactly one. Set btp-infra:subaccount.subdomain/region to match it (adopts it), or delete it in "
            f"the cockpit before creating {wanted[0]} in {wanted[1]}"
        )

    def _resolve_conflict(
        self, accounts: AccountsClient, props: Mapping[str, Any], err: ConflictError
    ) -> LiveSubaccount:
        """A subdomain conflict on create: the tenant's own subaccount (adopted), or a clear error."""
        own = self._own(accounts, props)
        if own is not None:
            return own
        subdomain, region, namespace = props["subdomain"], props["region"], props["namespace"]
        holder = next(
            (s for s in accounts.list_subaccounts() if (s.subdomain, s.region) == (subdomain, region)), None
        )
        if holder is not None and _going(holder) and holder.has_labels(identity_labels(namespace)):
            # Onboarding meets the tenant's own offboarding (user-pain-points.md B4/E4): a conflict, not ours.
            raise BtpError(
                f"subdomain {subdomain!r} in region {region} belongs to tenant {namespace!r}'s subaccount "
                f"{holder.guid}, which is being deleted (state {holder.state}"
                + (
                    ", pending deletion: restore it in the cockpit, or wait"
                    if holder.pending_deletion
                    else ""
                )
                + "); run `pulumi up` again once it is gone",
                status=err.status,
                code=err.code,
            ) from None
        where = (
            f"subaccount {holder.guid} ({holder.display_name!r}) of this global account"
            if holder is not None
            else "a subaccount outside this global account"
        )
        raise BtpError(
            f"subdomain {subdomain!r} is already taken in region {region} by {where}, which is not tenant "
            f"{namespace!r}'s (it lacks the labels {SM_TENANT_LABEL}={namespace}, "
            f"{SM_MANAGED_BY_LABEL}={PROJECT}); it is not adopted. Choose another "
            "btp-infra:subaccount.subdomain (or btp-infra:subdomainPrefix)",
            status=err.status,
            code=err.code,
        ) from None

    def _settle(
        self,
        accounts: AccountsClient,
        sub: LiveSubaccount,
        props: Mapping[str, Any],
        deadline: Deadline,
        *,
        made_here: bool,
    ) -> LiveSubaccount:
        """Wait for ``OK``. ``CREATION_FAILED``: delete the failed subaccount (it holds the subdomain and the
        tenant's identity) and fail with BTP's message. Any other failure of the wait (the API gone, the
        deadline): a subaccount this call made is deleted again, since Pulumi records no failed create and a
        destroy would never find it (a found one, an earlier run's, is left for the next ``up`` to adopt)."""
        try:
            return accounts.wait_for_subaccount(sub.guid, timeout=max(deadline.remaining(), 1.0))
        except OperationFailedError as err:
            message = err.description or "no message"
            cleaned = self._remove_failed(accounts, sub.guid)
            raise BtpError(
                f"create subaccount {props['subdomain']!r} in {props['region']}: failed ({sub.guid}); BTP "
                f"says: {message}. "
                + (
                    "The failed subaccount was deleted; fix the cause and run `pulumi up` again"
                    if cleaned
                    else f"The failed subaccount {sub.guid} could not be deleted; delete it in the cockpit"
                ),
                description=message,
                operation=f"create subaccount {props['subdomain']}",
            ) from None
        except Exception:
            if made_here:
                self._remove_failed(accounts, sub.guid)
            raise

    @staticmethod
    def _remove_failed(accounts: AccountsClient, guid: str) -> bool:
        try:
            accounts.delete_subaccount(guid, timeout=ROLLBACK_TIMEOUT)
        except Exception as err:  # best effort; the create's own error is what is raised
            log.warning("btp-infra: could not delete the failed subaccount %s: %s", guid, err)
            return False
        return True

    # ---- read / update -----------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            sub = self.accounts().get_subaccount(id_)
        except NotFoundError:
            return ReadResult("", {})
        if sub.pending_deletion:  # deleted (restorable for a while): gone for this stack
            return ReadResult("", {})
        live: dict[str, Any] = {
            "displayName": sub.display_name,
            "subdomain": sub.subdomain,
            "region": sub.region,
            "labels": _user_labels(sub.labels),
        }
        production = _production(sub)
        if production is not None:
            live["usedForProduction"] = production
        if props.get("parentDirectory"):
            live["parentDirectory"] = sub.parent_guid
        return ReadResult(id_, {**props, **live, **_outputs(sub)})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        accounts = self.accounts()
        sub = accounts.get_subaccount(id_)
        parent = news.get("parentDirectory")
        if parent and parent != olds.get("parentDirectory") and sub.parent_guid != parent:
            raise BtpError(
                f"btp-infra:subaccount.parentDirectory is {parent}, but subaccount {id_} is in "
                f"{sub.parent_guid}: btp-infra does not move subaccounts. Move it in the cockpit (or "
                "`btp move accounts/subaccount`) and run `pulumi up` again, or set parentDirectory back"
            )
        wanted_production = news.get("usedForProduction") is True
        if (
            sub.display_name != news["displayName"]
            or sub.labels != _wire_labels(news)
            or _production(sub) is not wanted_production
        ):
            sub = accounts.update_subaccount(
                id_,
                display_name=news["displayName"],
                labels=_wire_labels(news),
                used_for_production=wanted_production,
                timeout=self.timeout_of(news),
            )
        kept = {k: olds[k] for k in ("recovered",) if k in olds}
        return UpdateResult({**SPEC.inputs_of(news), **_outputs(sub), **kept})

    # ---- delete ------------------------------------------------------------------------------------

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("usedForProduction") is True:
            raise BtpError(
                f"subaccount {id_} is marked usedForProduction: refused to delete it. To offboard it "
                "deliberately: set btp-infra:subaccount.usedForProduction: false (and protect: false), run "
                "`pulumi up`, then destroy"
            )
        accounts = self.accounts()
        try:
            sub = accounts.get_subaccount(id_)
        except NotFoundError:
            log.warning("btp-infra: subaccount %s no longer exists; nothing to delete", id_)
            return
        timeout = self.timeout_of(props)
        if sub.pending_deletion:
            log.warning("btp-infra: subaccount %s is already deleted (pending deletion)", id_)
            return
        if not _going(sub):
            left = self.leftovers(id_, owned=props.get("ownedPlans") or [])
            if left:
                raise SubaccountNotEmptyError(
                    f"subaccount {id_} ({sub.subdomain}) is not empty, so it is not deleted: "
                    f"{'; '.join(left)}. Remove these (they are not this stack's) and run destroy again"
                )
        self.forget_service_manager(id_)
        accounts.delete_subaccount(id_, timeout=timeout)

    def leftovers(self, guid: str, *, owned: list[str] | tuple[str, ...] = ()) -> list[str]:
        """What the subaccount still holds besides what BTP manages itself: Service Manager instances and
        bindings (the admin access's own aside), the admin access when it is not a borrowed one, and
        entitlements other than auto-assigned ones and the stack's own plans (``owned``: an entitlement
        resource keeps its assignment while instances use it, and once Service Manager shows none, it goes
        with the subaccount)."""
        left: list[str] = []
        if self.accounts().get_service_management_binding(guid) is not None:
            left.append("Service Manager admin access (serviceManagementBinding)")
        with self.cleanup_service_manager(guid, f"emptiness check of subaccount {guid}") as sm:
            if sm is not None:
                instances = [i for i in sm.list_instances() if i.name != SM_ADMIN_INSTANCE_NAME]
                bindings = [b for b in sm.list_bindings() if b.name != SM_ADMIN_BINDING_NAME]
                if instances:
                    left.append("service instances " + ", ".join(sorted(i.name for i in instances)))
                if bindings:
                    left.append("service bindings " + ", ".join(sorted(b.name for b in bindings)))
        self.forget_service_manager(guid)
        assigned = [
            a
            for a in self.entitlements().list_assignments(guid)
            if not a.auto_assigned and f"{a.service}/{a.plan}" not in owned
        ]
        if assigned:
            plans = ", ".join(sorted(f"{a.service}/{a.plan}" for a in assigned))
            left.append(f"entitlements {plans} (not declared by this stack)")
        return left


def _outputs(sub: LiveSubaccount) -> SubaccountOutputs:
    return {
        "subaccountId": sub.guid,
        "state": sub.state,
        "parentGuid": sub.parent_guid,
        "liveLabels": {k: list(v) for k, v in sub.labels.items()},
    }


class Subaccount(Resource, module="btp", name="Subaccount"):
    """A subaccount created and owned by the tenant stack (``btp-infra:subaccount``)."""

    # Output attributes carry the wire (state) names, as for every dynamic resource.
    subaccountId: pulumi.Output[str]
    subdomain: pulumi.Output[str]
    region: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        display_name: str,
        subdomain: str,
        region: str,
        namespace: str,
        owned_plans: list[str] | None = None,
        parent_directory: str | None = None,
        labels: Mapping[str, list[str]] | None = None,
        used_for_production: bool = False,
        allow_replacement: bool = False,
        timeout_seconds: float | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs: SubaccountInputs = {
            "displayName": display_name,
            "subdomain": subdomain,
            "region": region,
            "parentDirectory": parent_directory,
            "labels": {k: list(v) for k, v in (labels or {}).items()},
            "usedForProduction": used_for_production,
            "namespace": namespace,
            "ownedPlans": list(owned_plans or []),
            "allowReplacement": allow_replacement,
            "timeoutSeconds": timeout_seconds,
        }
        super().__init__(SubaccountProvider(), name, SPEC.props(inputs), opts)
