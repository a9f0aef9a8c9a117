"""Offboarding a tenant without orphans: the operator's objects first, then the stack, then a look at what
Service Manager still holds (``btp-infra destroy``, the offboarding workflow).

Why. The SAP BTP service operator resolves a namespace's credentials on every reconcile and, when the
namespace's Secret is gone, silently falls back to the management-namespace Secret and then to the cluster's
own (btp-api.md A.1, A.3). A destroy removes the operator Secret before the namespace: the engine deletes a
resource only once everything depending on it is gone (pulumi ``pkg/resource/deploy/step_generator.go``,
``ScheduleDeletes``), and the Secret depends on the namespace and the binding, the namespace on the binding
(btp_infra/components/tenant_namespace.py) — so guardrails → Secret → namespace → binding → instance →
entitlements → admin access (tests/operations/test_leftovers.py checks it). If the operator's
``ServiceInstance`` / ``ServiceBinding`` objects still exist then, the operator deletes them with the
*cluster's* credentials, gets 404, treats that as success (``client/sm/client.go`` ``delete``), removes its
finalizer — and the real instance in the tenant's subaccount is orphaned, still billed (user-pain-points.md
B1, B2). Meanwhile the namespace hangs in ``Terminating``, and pulumi-kubernetes waits for it to be gone
(``provider/pkg/await/await.go``, ``Deletion``: 10 minutes by default), then fails the destroy — with the
Secret already deleted.

So, per stack, right before its destroy (:class:`OffboardHooks`, through the fleet's hooks, after the fleet's
own protect refusals — a protected tenant is never emptied):

- ``refuse`` (default): list the operator's objects in the tenant namespace; if any exist, refuse the destroy,
  naming each (kind/name, Ready, finalizers, deleting) and the fix (``--wait``, or delete them yourself).
- ``wait``: delete them — bindings first, then, once no binding is left, instances (an instance with bindings
  cannot be deleted in Service Manager: "could not delete instance due to existing bindings", user-pain-points
  B1/B2 order) — and wait, with growing intervals up to a bounded timeout, until the operator has removed its
  finalizers and the objects are gone; objects that appear meanwhile are deleted too. One that never goes
  fails the stack after the timeout, named with its finalizers, and nothing is destroyed.
- ``force``: skip the check (said loudly in the report): for a cluster that is gone or unreachable.

A namespace that does not exist (already gone, or never created) has nothing to orphan: the destroy
proceeds. A cluster that cannot be reached (or a kubeconfig that cannot be used) fails the stack before
anything is destroyed. A stack that only renders YAML (``renderYamlToDirectory``) has no cluster to check.

After a successful destroy, :func:`~btp_infra.operations.leftovers.confirm_subaccount` confirms through
Service Manager that the operator-access instance and binding are gone and reports anything else left in the
subaccount; a tenant object still there fails the stack (run destroy again).

The kubeconfig and context are the stack's, as the program hands them to pulumi-kubernetes
(btp_infra/program.py ``kubernetes_provider``): ``btp-infra:kubeContext``, ``btp-infra:kubeconfig`` as a path
or content (a path when it names a file, as ``provider/pkg/provider/util.go`` ``parseKubeconfigString``
decides; a Pulumi secret is read decrypted through the Automation API's ``Stack.get_config`` — ``pulumi config
get --json`` decrypts ``secure:`` values, ``pkg/cmd/pulumi/config/config.go`` ``getConfig``), else
``$KUBECONFIG`` / ``~/.kube/config``. The cis key is resolved as the stack's providers resolve it
(:func:`btp_infra.credentials.resolve_for_tenant`; a ``cisServiceKey`` stack secret, decrypted the same way).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, get_args

from btp_infra.automation.hooks import HookContext, StackFailed, StackRefused
from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.errors import BtpError, ServiceKeyError
from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.btp.keys import CisServiceKey
from btp_infra.config import TenantConfig, load_stack_file
from btp_infra.conventions import (
    CONFIG_CIS_KEY,
    DEFAULT_TIMEOUTS,
    config_key,
)
from btp_infra.credentials import CredentialsError, EncryptedConfigError, parse_cis_key, resolve_for_tenant
from btp_infra.kube import KubeClient, KubeError, OperatorKind, OperatorObject
from btp_infra.operations.leftovers import LeftoverCheckError, SubaccountReport, confirm_subaccount
from btp_infra.operations.subaccount import tenant_subaccount

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "HOOKS_KEY",
    "MODES",
    "OffboardError",
    "OffboardHooks",
    "OffboardMode",
    "OffboardRefused",
    "OperatorObjectsApi",
    "Preflight",
    "WaitPolicy",
    "check_operator_objects",
    "describe",
]

OffboardMode = Literal["refuse", "wait", "force"]
MODES: Final[tuple[str, ...]] = get_args(OffboardMode)
HOOKS_KEY: Final = "offboard"
"""The key of the offboarding report in a stack's ``--json`` object (docs/fleet-json.md)."""
DEFAULT_WAIT_TIMEOUT: Final = float(DEFAULT_TIMEOUTS["instance"])
"""How long ``--wait`` waits for the operator by default: as long as an instance may take (30 min)."""
#: Deletion order: bindings, then instances (an instance with bindings cannot be deleted).
ORDER: Final[tuple[OperatorKind, ...]] = ("ServiceBinding", "ServiceInstance")
_KUBECONFIG_KEY: Final = config_key("kubeconfig")


class OffboardError(Exception):
    """The offboarding check could not be made, or ``--wait`` ran out of time (one line, no secret)."""


class OffboardRefused(OffboardError):
    """Operator objects still exist in the namespace (``refuse`` mode): nothing may be destroyed yet.
    ``found``: them, bindings first."""

    def __init__(self, message: str, found: list[OperatorObject]) -> None:
        super().__init__(message)
        self.found = found


class OperatorObjectsApi(Protocol):
    """What the check needs of the cluster (:class:`btp_infra.kube.KubeClient` provides it)."""

    def get_namespace(self, name: str) -> object | None: ...

    def list_operator_objects(
        self, kind: OperatorKind, namespace: str | None = None, label_selector: str | None = None
    ) -> list[OperatorObject]: ...

    def delete_operator_object(self, kind: OperatorKind, namespace: str, name: str) -> bool: ...


@dataclass(frozen=True)
class WaitPolicy:
    """How ``--wait`` waits: at most ``timeout`` seconds; the interval starts at ``initial`` and doubles up
    to ``cap`` (the operator requeues with its own exponential backoff, btp-api.md A.3, so a fixed short
    interval only adds API calls). ``sleep`` and ``clock`` are injectable for tests."""

    timeout: float = DEFAULT_WAIT_TIMEOUT
    initial: float = 0.5
    cap: float = 15.0
    factor: float = 2.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.timeout < 0 or self.initial <= 0 or self.cap < self.initial or self.factor < 1:
            raise ValueError("WaitPolicy needs timeout >= 0, 0 < initial <= cap and factor >= 1")


def describe(obj: OperatorObject) -> str:
    """``ServiceBinding orders/db (Ready: True; finalizers: …; deleting since …)`` — no spec, no secret."""
    ready = next((c for c in obj.conditions if c.get("type") == "Ready"), None)
    state = f"Ready: {ready.get('status')}" if ready is not None else "Ready: unknown"
    if ready is not None and ready.get("reason"):
        state += f" ({ready.get('reason')})"
    failed = next(
        (c for c in obj.conditions if c.get("type") == "Failed" and str(c.get("status")) == "True"), None
    )
    if failed is not None and failed.get("message"):
        state += f"; failed: {' '.join(str(failed.get('message')).split())[:200]}"
    finalizers = ", ".join(obj.finalizers) if obj.finalizers else "none"
    deleting = f"; deleting since {obj.deletion_timestamp}" if obj.deletion_timestamp else ""
    return f"{obj.kind} {obj.namespace}/{obj.name} ({state}; finalizers: {finalizers}{deleting})"


def _object_json(obj: OperatorObject) -> dict[str, object]:
    return {
        "kind": obj.kind,
        "name": obj.name,
        "ready": obj.ready,
        "finalizers": list(obj.finalizers),
        "deleting": obj.deletion_timestamp is not None,
    }


@dataclass
class Preflight:
    """What the check found before the destroy: whether the namespace exists, the operator objects in it at
    the start (bindings first), and what ``--wait`` deleted (in the order asked)."""

    namespace: str
    mode: OffboardMode
    namespace_found: bool = False
    found: list[OperatorObject] = field(default_factory=list)
    deleted: list[OperatorObject] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "namespaceFound": self.namespace_found,
            "operatorObjects": [_object_json(o) for o in self.found],
            "deleted": [f"{o.kind}/{o.name}" for o in self.deleted],
        }


def _listing(objects: Iterable[OperatorObject]) -> str:
    return "; ".join(describe(o) for o in objects)


def _names(objects: Iterable[OperatorObject]) -> str:
    return ", ".join(f"{o.kind}/{o.name}" for o in objects)


def _why() -> str:
    return (
        "the destroy deletes the operator Secret first, and the operator would then delete them with the "
        "cluster's own credentials and orphan their instances in the tenant's subaccount"
    )


def _all_objects(kube: OperatorObjectsApi, namespace: str) -> list[OperatorObject]:
    return [o for kind in ORDER for o in kube.list_operator_objects(kind, namespace)]


def check_operator_objects(
    kube: OperatorObjectsApi,
    namespace: str,
    *,
    mode: OffboardMode,
    policy: WaitPolicy | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Preflight:
    """Make sure no operator object is left in ``namespace`` before its tenant is destroyed (module
    docstring). ``refuse``: :class:`OffboardRefused` listing them; ``wait``: delete them (bindings first) and
    wait until the operator removed them, :class:`OffboardError` naming what is left after the timeout.
    Kubernetes failures are :class:`OffboardError` too (``KubeError``'s one line). ``force`` is not a mode
    of this check: the caller skips it."""
    policy = policy or WaitPolicy()
    report = Preflight(namespace, mode)
    step = on_step or (lambda _text: None)
    try:
        step(f"checking namespace {namespace} for operator objects")
        if kube.get_namespace(namespace) is None:
            return report  # never created, or already gone: nothing in it can be orphaned
        report.namespace_found = True
        report.found = _all_objects(kube, namespace)
        if not report.found:
            return report
        if mode != "wait":
            raise OffboardRefused(
                f"destroy refused: {len(report.found)} SAP BTP service operator object(s) still in namespace "
                f"{namespace}: {_names(report.found)}; {_why()}. Fix: destroy --wait (deletes them, bindings "
                "first, and waits for the operator), or delete them and wait until they are gone",
                report.found,
            )
        _delete_and_wait(kube, namespace, report, policy, step)
    except KubeError as err:
        raise OffboardError(
            f"cannot check namespace {namespace} for SAP BTP service operator objects: {err}; nothing was "
            f"destroyed (--force skips the check)"
        ) from None
    return report


def _delete_and_wait(
    kube: OperatorObjectsApi,
    namespace: str,
    report: Preflight,
    policy: WaitPolicy,
    step: Callable[[str], None],
) -> None:
    deadline = policy.clock() + policy.timeout
    interval = policy.initial
    asked: set[tuple[str, str]] = set()
    while True:
        # One kind at a time: no instance is deleted while a binding is left (new ones included).
        remaining: list[OperatorObject] = []
        for kind in ORDER:
            remaining = kube.list_operator_objects(kind, namespace)
            if remaining:
                for obj in remaining:
                    if obj.deletion_timestamp is None and (obj.kind, obj.name) not in asked:
                        kube.delete_operator_object(kind, namespace, obj.name)
                        asked.add((obj.kind, obj.name))
                        report.deleted.append(obj)
                break
        if not remaining:
            return
        left = deadline - policy.clock()
        if left <= 0:
            raise OffboardError(
                f"--wait: after {policy.timeout:g} s, {len(remaining)} SAP BTP service operator "
                f"object(s) are still in namespace {namespace}: {_listing(remaining)}; the operator has not "
                "removed its finalizer (see the object's status conditions and the operator's log); "
                "nothing was destroyed. Fix the cause and run destroy --wait again"
            )
        step(f"waiting for the operator to remove {_names(remaining)}")
        policy.sleep(min(interval, left))
        interval = min(policy.cap, interval * policy.factor)


# ---- the fleet hooks -------------------------------------------------------------------------------

KubeFactory = Callable[[str | None, str | None], KubeClient]
"""(kubeconfig path or content or None, context) → a client."""


def _default_kube(kubeconfig: str | None, context: str | None) -> KubeClient:
    return KubeClient.from_kubeconfig(kubeconfig, context)


class OffboardHooks:
    """The per-stack offboarding of ``btp-infra destroy`` (:mod:`btp_infra.automation.hooks`): the operator
    object check before, the Service Manager confirmation after. ``kube_factory`` and the BTP policies are
    injectable for tests."""

    key = HOOKS_KEY

    def __init__(
        self,
        mode: OffboardMode = "refuse",
        wait: WaitPolicy | None = None,
        *,
        confirm: bool = True,
        kube_factory: KubeFactory | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown offboarding mode {mode!r}; valid: {', '.join(MODES)}")
        self.mode: OffboardMode = mode
        self.wait = wait or WaitPolicy()
        self.confirm = confirm
        self.kube_factory = kube_factory or _default_kube
        self.retry_policy = retry_policy
        self.poll_policy = poll_policy

    # -- before ------

    def before(self, ctx: HookContext) -> None:
        config = load_stack_file(ctx.target.stack_file)  # the fleet validated it (protect was readable)
        ctx.details.update(mode=self.mode, namespace=config.namespace, check="done")
        # Read now: after the destroy the stack has no outputs. Adopted objects are kept by the destroy.
        ctx.details["adopted"] = _adopted(ctx)
        if self.mode == "force":
            ctx.details["check"] = "skipped"
            ctx.note(
                "FORCED (--force): the check for SAP BTP service operator ServiceInstances/ServiceBindings "
                f"in namespace {config.namespace} was skipped; any still there lose their credentials with "
                "the Secret, and the operator may orphan their instances in the tenant's subaccount"
            )
            return
        if config.render_yaml_to_directory is not None:
            ctx.details["check"] = "no cluster"
            ctx.note("the stack renders YAML only (renderYamlToDirectory): no cluster to check")
            return
        try:
            kube = self.kube_factory(self._kubeconfig(config, ctx), config.kube_context)
        except KubeError as err:
            raise StackFailed(
                f"{ctx.target.stack_file}: cannot check namespace {config.namespace} for SAP BTP service "
                f"operator objects: {err}; nothing was destroyed (--force skips the check)"
            ) from None
        try:
            with kube:
                report = check_operator_objects(
                    kube, config.namespace, mode=self.mode, policy=self.wait, on_step=ctx.step
                )
        except OffboardRefused as err:
            ctx.details.update(namespaceFound=True, operatorObjects=[_object_json(o) for o in err.found])
            for obj in err.found:
                ctx.note(f"still in the namespace: {describe(obj)}")
            raise StackRefused(f"{ctx.target.stack_file}: {err}") from None
        except OffboardError as err:
            raise StackFailed(str(err)) from None
        ctx.details.update(report.to_json())
        if not report.namespace_found:
            ctx.note(f"namespace {config.namespace} does not exist: no operator object to wait for")
        elif report.deleted:
            ctx.note(
                f"deleted {len(report.deleted)} SAP BTP service operator object(s) in namespace "
                f"{config.namespace} (bindings first) and waited until the operator removed them: "
                f"{_names(report.deleted)}"
            )
        else:
            ctx.note(f"no SAP BTP service operator object in namespace {config.namespace}")

    def _kubeconfig(self, config: TenantConfig, ctx: HookContext) -> str | None:
        if config.kubeconfig is None:
            return None  # $KUBECONFIG / ~/.kube/config, as the provider where it runs
        value = config.kubeconfig_value
        if value is not None:
            return value
        try:  # a Pulumi secret in the stack file: decrypted as the engine would (`pulumi config get`)
            return ctx.stack.get_config(_KUBECONFIG_KEY).value
        except Exception as err:
            raise KubeError(
                f"{_KUBECONFIG_KEY} is a Pulumi secret that could not be decrypted "
                f"({ctx.redact(type(err).__name__)})"
            ) from None

    # -- after ------

    def after(self, ctx: HookContext) -> None:
        if not self.confirm:
            return
        config = load_stack_file(ctx.target.stack_file)
        guid = config.subaccount_id
        try:
            key = self._cis_key(config, ctx)
            if guid is None:  # the stack created its subaccount: find it as the Subaccount resource does
                retry, poll = self.retry_policy, self.poll_policy
                with AccountsClient(key, retry_policy=retry, poll_policy=poll) as accounts:
                    guid = tenant_subaccount(config, accounts)
                if guid is None:
                    # Deleted last, and only when nothing was left in it (the Subaccount resource refuses
                    # otherwise): gone means confirmed empty.
                    ctx.details["subaccount"] = {"id": None, "deletedWithTheStack": True}
                    ctx.note(f"subaccount {config.subaccount_ref}: deleted with the stack (it was empty)")
                    return
            ctx.step(f"confirming through Service Manager: subaccount {guid}")
            report = confirm_subaccount(
                key,
                guid,
                config.namespace,
                retry_policy=self.retry_policy,
                poll_policy=self.poll_policy,
                adopted=_adopted_names(ctx.details.get("adopted")),
            )
        except (LeftoverCheckError, ServiceKeyError, CredentialsError, BtpError) as err:
            where = guid or config.subaccount_ref
            ctx.details["subaccount"] = {"id": guid, "error": ctx.redact(str(err))}
            raise StackFailed(
                f"destroyed, but could not confirm through Service Manager what is left in subaccount "
                f"{where}: {ctx.redact(str(err))}"
            ) from None
        self._record(ctx, report)

    @staticmethod
    def _record(ctx: HookContext, report: SubaccountReport) -> None:
        ctx.details["subaccount"] = report.to_json()
        for line in report.lines():
            ctx.note(line)
        if not report.clean:
            names = ", ".join(f"{o.kind} {o.name}" for o in report.operator_access)
            raise StackFailed(
                f"destroyed, but Service Manager still holds the tenant's {names} in subaccount "
                f"{report.subaccount_id}; run destroy again"
            )

    @staticmethod
    def _cis_key(config: TenantConfig, ctx: HookContext) -> CisServiceKey:
        try:
            return resolve_for_tenant(config).key
        except EncryptedConfigError:
            pass  # the stack secret wins: read it decrypted, as the engine hands it to the providers
        try:
            raw = ctx.stack.get_config(CONFIG_CIS_KEY).value
        except Exception as err:
            raise CredentialsError(
                f"{CONFIG_CIS_KEY} is a Pulumi secret that could not be decrypted ({type(err).__name__}); "
                "give the key in BTP_CIS_SERVICE_KEY or BTP_CIS_SERVICE_KEY_FILE"
            ) from None
        return parse_cis_key(raw, f"{CONFIG_CIS_KEY} ({config.source})").key


def _adopted(ctx: HookContext) -> list[str]:
    """The stack's output ``adopted`` (the component's list of objects that existed before the stack, e.g.
    ``serviceManagementBinding``, ``entitlement service-manager/service-operator-access``,
    ``serviceInstance <name>``); empty when the stack has none or the backend cannot say."""
    try:
        value = ctx.stack.outputs().get("adopted")
    except Exception:  # no outputs (never deployed), or the backend cannot be read: nothing is known adopted
        return []
    items = value.value if value is not None else None
    return [str(item) for item in items] if isinstance(items, list) else []


def _adopted_names(adopted: object) -> list[str]:
    """The names in ``adopted`` entries (``<kind> <name>``): SM objects the destroy keeps on purpose."""
    if not isinstance(adopted, list):
        return []
    return [str(entry).rsplit(" ", 1)[-1] for entry in adopted if " " in str(entry)]
