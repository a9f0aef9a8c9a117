"""``verify``: is a live tenant what its stack file says? Read-only checks of the cluster and of BTP.

Owns the check results (:class:`Check`: name, pass/warn/fail, reason, fix), the report of one stack
(:class:`StackReport`) and of a run (:class:`VerifyReport`) with their text, JSON (``version`` 1) and
Markdown renderings, and the checks themselves:

Kubernetes (through :mod:`btp_infra.kube`):

- ``namespace`` — exists, is not terminating, carries the labels btp-infra sets (``istio-injection``, the
  tenant labels) and the stack's own;
- ``namespace.pods`` — pods that started before ``istio-injection=enabled`` was set (no ``istio-proxy``
  container, no ``sidecar.istio.io/status`` annotation) run without the mesh: warn, restart them;
- ``operator.config`` — the installed operator (its ConfigMap ``sap-btp-operator-config``) resolves Secrets
  where the placement puts this one (``MANAGEMENT_NAMESPACE``, ``ENABLE_NAMESPACE_SECRETS``) and serves the
  namespace (``ALLOW_CLUSTER_ACCESS`` / ``ALLOWED_NAMESPACES``); warn when it cannot be read;
- ``secret`` — the operator Secret exists where the placement says, with the keys of the credential type
  (btp-api.md §A.2) and the labels btp-infra sets;
- ``secret.precedence`` — no Secret the operator resolves first (btp-api.md §A.1: the namespace's
  ``sap-btp-service-operator``, then ``<ns>-sap-btp-service-operator`` in the management namespace, then the
  cluster default), so for placement ``management`` nothing in the tenant namespace shadows it; instances with
  an explicit ``btpAccessCredentialsSecret`` (step 0) and a stale lower-step Secret are warnings;

Credentials (the Secret's own, exactly as the operator uses them):

- ``credentials.token`` — they obtain a token (client secret in the body, or x509 over mTLS);
- ``credentials.service-manager`` — the token reaches Service Manager (``GET /v1/service_offerings``, what
  the operator reads first);
- ``credentials.expiry`` (x509) — warn inside the expiry window, fail once expired;

BTP (with the cis key and the subaccount's SM admin access, which verify never creates):

- ``btp.subaccount``, ``btp.admin-access``, ``btp.entitlement <service>/<plan>`` (``OK``),
  ``btp.instance`` and ``btp.binding`` (present, ready, btp-infra's labels), ``btp.binding.current`` (the
  Secret holds the binding's current credentials: compared in constant time, never shown).

Nothing is written anywhere. A check that cannot run because an earlier one failed is left out (the earlier
one says so). Every text is passed through a redactor holding every secret value seen (Secret data, cis key,
binding credentials), so a server echoing one cannot leak it into a report.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.auth import ClientCredentialsTokenSource, X509TokenSource
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.errors import BtpError, NotFoundError, Redactor
from btp_infra.btp.http import RetryPolicy
from btp_infra.btp.keys import CisServiceKey, parse_binding_credentials
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import ServiceBinding, ServiceInstance, is_tenants
from btp_infra.config import TenantConfig
from btp_infra.conventions import (
    DEFAULT_MANAGEMENT_NAMESPACE,
    LABEL_ISTIO_INJECTION,
    LABEL_TENANT,
    OPERATOR_OFFERING,
    OPERATOR_SECRET_BASE_NAME,
    SM_TENANT_LABEL,
    TOKEN_URL_SUFFIX,
)
from btp_infra.kube import KubeClient, KubeError, Secret
from btp_infra.operations.subaccount import tenant_subaccount
from btp_infra.operator_secret import REQUIRED_KEYS, SECRET_LABELS, binding_credentials, secret_data

__all__ = [
    "DEFAULT_EXPIRY_WINDOW",
    "JSON_VERSION",
    "Check",
    "StackReport",
    "Status",
    "VerifyOptions",
    "VerifyReport",
    "kube_client_for",
    "parse_expiry_window",
    "verify_stacks",
    "verify_tenant",
]

Status = Literal["pass", "warn", "fail"]
JSON_VERSION = 1
DEFAULT_EXPIRY_WINDOW = timedelta(days=30)
_ORDER: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}
_MARK = {"pass": "✔", "warn": "!", "fail": "✘"}
_MD_MARK = {"pass": "✅", "warn": "⚠️", "fail": "❌"}

# Istio's sidecar injector (istio/istio ``pkg/kube/inject``): the container it adds, the annotation it writes
# on every pod it injected, and the opt-out a pod may carry.
ISTIO_PROXY = "istio-proxy"
ISTIO_STATUS_ANNOTATION = "sidecar.istio.io/status"
ISTIO_INJECT = "sidecar.istio.io/inject"
#: The field of a ServiceInstance naming an explicit credentials Secret (btp-api.md §A.5, step 0 of §A.1).
EXPLICIT_SECRET_FIELD = "btpAccessCredentialsSecret"
#: The operator's configuration (chart ``sapbtp-operator-charts/templates/configmap.yml``; Kyma:
#: btp-manager ``module-resources/apply/configmap.yml``), in its release namespace, and the keys verify reads.
OPERATOR_CONFIG_MAP = "sap-btp-operator-config"
_CM_MANAGEMENT = "MANAGEMENT_NAMESPACE"
_CM_RELEASE = "RELEASE_NAMESPACE"
_CM_NAMESPACE_SECRETS = "ENABLE_NAMESPACE_SECRETS"
_CM_CLUSTER_ACCESS = "ALLOW_CLUSTER_ACCESS"
_CM_ALLOWED = "ALLOWED_NAMESPACES"
#: What is secret in the operator Secret and in a binding's credentials (the certificate is public).
_SECRET_DATA_KEYS = ("clientsecret", "tls.key")
_BINDING_SECRET_FIELDS = ("clientsecret", "key")


# ---- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One check: a stable ``name``, its ``status``, why (``reason``) and what to do (``fix``; None: pass)."""

    name: str
    status: Status
    reason: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "reason": self.reason, "fix": self.fix}


def _worst(statuses: Iterable[str]) -> Status:
    worst: Status = "pass"
    for status in statuses:
        if _ORDER[status] > _ORDER[worst]:
            worst = status  # type: ignore[assignment]
    return worst


@dataclass
class StackReport:
    """The checks of one stack, in the order they ran."""

    stack: str
    namespace: str | None = None
    subaccount: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return _worst(c.status for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in _ORDER}

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "namespace": self.namespace,
            "subaccount": self.subaccount,
            "status": self.status,
            "counts": self.counts(),
            "checks": [c.as_dict() for c in self.checks],
        }


@dataclass
class VerifyReport:
    """A verify run over stacks: exit code 1 when any check failed, else 0 (warnings included)."""

    stacks: list[StackReport] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return _worst(s.status for s in self.stacks)

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "fail" else 0

    def counts(self) -> dict[str, int]:
        return {s: sum(r.counts()[s] for r in self.stacks) for s in _ORDER}

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document (``version`` 1; docs in README "Verifying live tenants")."""
        return {
            "version": JSON_VERSION,
            "status": self.status,
            "counts": self.counts(),
            "stacks": [s.as_dict() for s in self.stacks],
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> VerifyReport:
        """A report read back from :meth:`as_dict` / ``--json`` output (e.g. a CI job rendering another job's
        report as Markdown); :class:`ValueError` naming what is wrong for anything else."""
        if document.get("version") != JSON_VERSION:
            raise ValueError(
                f"not a verify report of version {JSON_VERSION} (version: {document.get('version')!r})"
            )
        stacks = document.get("stacks")
        if not isinstance(stacks, list):
            raise ValueError("a verify report needs a list 'stacks'")
        report = cls()
        for index, item in enumerate(stacks):
            checks = item.get("checks") if isinstance(item, Mapping) else None
            if (
                not isinstance(item, Mapping)
                or not isinstance(item.get("stack"), str)
                or not isinstance(checks, list)
            ):
                raise ValueError(f"stacks[{index}] needs a string 'stack' and a list 'checks'")
            parsed: list[Check] = []
            for number, check in enumerate(checks):
                status = check.get("status") if isinstance(check, Mapping) else None
                if (
                    not isinstance(check, Mapping)
                    or status not in _ORDER
                    or not isinstance(check.get("name"), str)
                    or not isinstance(check.get("reason"), str)
                    or not isinstance(check.get("fix"), str | None)
                ):
                    raise ValueError(
                        f"stacks[{index}].checks[{number}] needs name, reason (strings), fix (string or "
                        "null) and status pass, warn or fail"
                    )
                parsed.append(Check(check["name"], status, check["reason"], check["fix"]))
            namespace, subaccount = item.get("namespace"), item.get("subaccount")
            report.stacks.append(
                StackReport(
                    item["stack"],
                    namespace if isinstance(namespace, str) else None,
                    subaccount if isinstance(subaccount, str) else None,
                    parsed,
                )
            )
        return report

    def json_text(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"

    def text(self) -> str:
        lines: list[str] = []
        for report in self.stacks:
            where = f" — namespace {report.namespace}" if report.namespace else ""
            if report.subaccount:
                where += f" ↔ subaccount {report.subaccount}"
            lines.append(f"{report.stack}{where}: {report.status}")
            for check in report.checks:
                lines.append(f"  {_MARK[check.status]} {check.status:<4} {check.name}: {check.reason}")
                if check.fix and check.status != "pass":
                    lines.append(f"         fix: {check.fix}")
        counts = self.counts()
        lines.append(
            f"{len(self.stacks)} stack(s): {counts['fail']} failed, {counts['warn']} warning(s), "
            f"{counts['pass']} passed"
        )
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        """A Markdown section (for ``btp-infra ci comment`` / ``ci drift-issue``): one table per stack,
        problems first; cells escaped so server text cannot break the table."""
        counts = self.counts()
        out = [
            f"### {_MD_MARK[self.status]} verify: {counts['fail']} failed, {counts['warn']} warning(s), "
            f"{counts['pass']} passed",
            "",
        ]
        for report in self.stacks:
            where = f" (namespace `{report.namespace}`)" if report.namespace else ""
            out += [f"#### {_MD_MARK[report.status]} `{report.stack}`{where}", ""]
            out += ["| | check | reason | fix |", "|---|---|---|---|"]
            ordered = sorted(report.checks, key=lambda c: -_ORDER[c.status])
            for check in ordered:
                fix = _md_cell(check.fix) if check.fix and check.status != "pass" else ""
                out.append(
                    f"| {_MD_MARK[check.status]} | `{check.name}` | {_md_cell(check.reason)} | {fix} |"
                )
            out.append("")
        return "\n".join(out)


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


# ---- options -------------------------------------------------------------------------------------------

_WINDOW_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?[wdhms])+")
_WINDOW_PART_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([wdhms])")
_WINDOW_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
MAX_EXPIRY_WINDOW = timedelta(days=3650)


def parse_expiry_window(value: str) -> timedelta:
    """An expiry window: ``conventions.parse_duration``'s units plus days and weeks (``30d``, ``2w``,
    ``1d12h``), from 0 to 3650 days. A unit is required (a bare number would be seconds elsewhere).
    :class:`ValueError` with what is valid otherwise."""
    text = value.strip().lower()
    if not _WINDOW_RE.fullmatch(text):
        raise ValueError(
            "is not a duration; valid: a number with a unit w, d, h, m or s, e.g. 30d, 2w, 1d12h"
        )
    seconds = sum(float(n) * _WINDOW_UNITS[u] for n, u in _WINDOW_PART_RE.findall(text))
    window = timedelta(seconds=seconds)
    if window > MAX_EXPIRY_WINDOW:
        raise ValueError("is longer than 3650d")
    return window


@dataclass(frozen=True)
class VerifyOptions:
    """``expiry_window``: warn when an x509 certificate expires within it; ``now``: the clock (tests);
    ``retry_policy``: of every BTP call (short by default: verify reports, it does not wait out an outage)."""

    expiry_window: timedelta = DEFAULT_EXPIRY_WINDOW
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    retry_policy: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(
            max_attempts=3, backoff_base=0.5, read_timeout=30.0, call_deadline=60.0
        )
    )


# ---- the checks ----------------------------------------------------------------------------------------


def _up(stack: str) -> str:
    """The fix of drift: a refresh first, so that the next ``up`` sees what changed out of band (``up``
    alone diffs the program against the state, not against the cluster or BTP)."""
    return f"btp-infra refresh --stack {stack}, then btp-infra up --stack {stack}"


class _Run:
    """One stack's verification: the results so far, and the redactor of every secret seen."""

    def __init__(self, stack: str, config: TenantConfig, options: VerifyOptions) -> None:
        self.stack = stack
        self.config = config
        self.options = options
        self.redact = Redactor()
        self.report = StackReport(stack, config.namespace, config.subaccount_id)

    def add(self, name: str, status: Status, reason: str, fix: str | None = None) -> Status:
        self.report.checks.append(Check(name, status, self.redact(reason), self.redact.optional(fix)))
        return status

    def secrets(self, values: Iterable[object]) -> None:
        """Remember secret values for redaction. A PEM key by its body lines: its armour lines are no secret,
        and their 8-character pieces would redact harmless text."""
        for value in values:
            if not isinstance(value, str):
                continue
            if "-----BEGIN" in value:
                for line in value.splitlines():
                    if not line.startswith("-----"):
                        self.redact.add(line.strip())
            else:
                self.redact.add(value)


def _label_problems(found: Mapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    problems = []
    for key, value in wanted.items():
        if key not in found:
            problems.append(f"{key} is missing (want {value!r})")
        elif found[key] != value:
            problems.append(f"{key} is {found[key]!r} (want {value!r})")
    return problems


def _check_namespace(run: _Run, kube: KubeClient) -> bool:
    """``namespace``; False when there is no namespace to look into further."""
    config, ns_name = run.config, run.config.namespace
    namespace = kube.get_namespace(ns_name)
    if namespace is None:
        run.add(
            "namespace",
            "fail",
            f"namespace {ns_name} does not exist on the cluster (context {config.kube_context})",
            f"{_up(run.stack)} (creates it), or check btp-infra:kubeContext",
        )
        return False
    if namespace.deletion_timestamp or namespace.phase == "Terminating":
        run.add(
            "namespace",
            "fail",
            f"namespace {ns_name} is terminating (deleted since {namespace.deletion_timestamp})",
            "wait until it is gone, then run " + _up(run.stack),
        )
        return False
    problems = _label_problems(namespace.labels, config.namespace_labels)
    if problems:
        run.add(
            "namespace",
            "fail",
            f"namespace {ns_name} exists but its labels drifted: {'; '.join(problems)}",
            f"{_up(run.stack)} (restores the labels)",
        )
    else:
        run.add(
            "namespace", "pass", f"namespace {ns_name} exists with its {len(config.namespace_labels)} labels"
        )
    return True


def _has_sidecar(pod: Any) -> bool:
    return (
        ISTIO_PROXY in pod.containers
        or ISTIO_PROXY in pod.init_containers  # native sidecars (Kubernetes ≥ 1.28)
        or ISTIO_STATUS_ANNOTATION in pod.annotations
    )


def _opted_out(pod: Any) -> bool:
    return "false" in (
        pod.annotations.get(ISTIO_INJECT, "").lower(),
        pod.labels.get(ISTIO_INJECT, "").lower(),
    )


def _check_pods(run: _Run, kube: KubeClient) -> None:
    """``namespace.pods``: running pods the injector never saw (started before injection was enabled)."""
    ns_name = run.config.namespace
    if run.config.namespace_labels.get(LABEL_ISTIO_INJECTION) != "enabled":
        return  # the stack turned injection off; nothing to expect
    pods = [p for p in kube.list_pods(ns_name) if p.phase not in ("Succeeded", "Failed")]
    stale = sorted(p.name for p in pods if not _has_sidecar(p) and not _opted_out(p))
    if stale:
        shown = ", ".join(stale[:10]) + (f" and {len(stale) - 10} more" if len(stale) > 10 else "")
        run.add(
            "namespace.pods",
            "warn",
            f"{len(stale)} pod(s) run without the Istio sidecar (started before "
            f"{LABEL_ISTIO_INJECTION}=enabled was set): {shown}",
            f"restart them so the injector adds the sidecar: kubectl -n {ns_name} rollout restart deployment "
            "(and statefulset/daemonset), or delete the pods",
        )
    else:
        run.add(
            "namespace.pods", "pass", f"all {len(pods)} running pod(s) have the Istio sidecar or opted out"
        )


def _check_operator_config(run: _Run, kube: KubeClient) -> None:
    """``operator.config``: does the installed operator look where the placement puts the Secret, and does it
    serve the namespace at all? Read from its ConfigMap (the management namespace, else Kyma's default)."""
    config = run.config
    data: dict[str, str] | None = None
    where = ""
    candidates = list(dict.fromkeys((config.management_namespace, DEFAULT_MANAGEMENT_NAMESPACE)))
    for namespace in candidates:
        try:
            data = kube.get_config_map(namespace, OPERATOR_CONFIG_MAP)
        except KubeError as err:
            if err.status != 403:
                raise
            run.add(
                "operator.config",
                "warn",
                f"cannot read the operator's ConfigMap {namespace}/{OPERATOR_CONFIG_MAP} (forbidden): "
                "where it looks for Secrets is not confirmed",
                f"allow get on configmaps in {namespace} to whoever runs verify",
            )
            return
        if data is not None:
            where = f"{namespace}/{OPERATOR_CONFIG_MAP}"
            break
    if data is None:
        run.add(
            "operator.config",
            "warn",
            f"the SAP BTP service operator's ConfigMap {OPERATOR_CONFIG_MAP} is not in "
            f"{' nor '.join(candidates)}: is the operator installed? Where it looks for Secrets is not "
            "confirmed",
            "install the SAP BTP Operator module (Kyma) or the operator chart, or set "
            "btp-infra:managementNamespace to its namespace",
        )
        return
    release = data.get(_CM_RELEASE) or where.split("/", 1)[0]
    management = data.get(_CM_MANAGEMENT) or release
    problems: list[str] = []
    if config.secret_placement == "management" and management != config.management_namespace:
        problems.append(
            f"the operator looks for {config.namespace}-{OPERATOR_SECRET_BASE_NAME} in {management} "
            f"({_CM_MANAGEMENT}), not in {config.management_namespace}"
        )
    if config.secret_placement == "namespace" and data.get(_CM_NAMESPACE_SECRETS, "").lower() == "false":
        problems.append(
            f"{_CM_NAMESPACE_SECRETS} is false: the operator ignores Secrets in tenant namespaces"
        )
    allowed = [n.strip() for n in data.get(_CM_ALLOWED, "").split(",") if n.strip()]
    if data.get(_CM_CLUSTER_ACCESS, "").lower() == "false" and config.namespace not in allowed:
        problems.append(
            f"{_CM_CLUSTER_ACCESS} is false and {_CM_ALLOWED} ({', '.join(allowed) or 'none'}) lacks "
            f"{config.namespace}: the operator does not serve the namespace"
        )
    if problems:
        run.add(
            "operator.config",
            "fail",
            f"{where}: {'; '.join(problems)}",
            "align the operator's configuration (chart values manager.management_namespace, "
            "allowed_namespaces) with the stack, or btp-infra:secretPlacement / managementNamespace with it",
        )
    else:
        run.add(
            "operator.config",
            "pass",
            f"{where}: the operator serves namespace {config.namespace} and resolves Secrets in it and in "
            f"{management}",
        )


def _credential_keys(secret: Secret) -> set[str]:
    return {k for k, v in secret.data.items() if v.strip()}


def _check_secret(run: _Run, kube: KubeClient) -> Secret | None:
    """``secret``: the operator Secret where the placement says, its keys and labels."""
    config = run.config
    where = f"{config.secret_namespace}/{config.secret_name}"
    secret = kube.get_secret(config.secret_namespace, config.secret_name)
    if secret is None:
        fallback = (
            f"the operator falls back to {config.management_namespace}/{config.namespace}-"
            f"{OPERATOR_SECRET_BASE_NAME} or the cluster's own subaccount"
            if config.secret_placement == "namespace"
            else "the operator falls back to the cluster's own subaccount"
        )
        run.add(
            "secret",
            "fail",
            f"operator Secret {where} (placement {config.secret_placement}) does not exist: {fallback}; "
            "credential checks not run",
            f"{_up(run.stack)} (writes the Secret) before anything is provisioned in namespace "
            f"{config.namespace}",
        )
        return None
    run.secrets(secret.data.get(k) for k in _SECRET_DATA_KEYS)
    keys = _credential_keys(secret)
    problems: list[str] = []
    missing = [k for k in REQUIRED_KEYS[config.credential_type] if k not in keys]
    if missing:
        problems.append(
            f"missing or empty key(s) {', '.join(missing)} of {config.credential_type} credentials"
        )
    if "clientsecret" in keys and {"tls.crt", "tls.key"} & keys:
        problems.append(
            "holds both clientsecret and tls.crt/tls.key (the operator then ignores the certificate)"
        )
    if config.credential_type == "client-secret" and {"tls.crt", "tls.key"} & keys:
        problems.append("holds x509 keys although the stack's credentialType is client-secret")
    if config.credential_type == "x509" and "clientsecret" in keys:
        problems.append("holds a clientsecret although the stack's credentialType is x509")
    suffix = secret.data.get("tokenurlsuffix")
    if suffix is not None and suffix != TOKEN_URL_SUFFIX:
        problems.append(f"tokenurlsuffix is {suffix!r} (want {TOKEN_URL_SUFFIX!r})")
    if secret.data.get("tokenurl", "").rstrip("/").endswith(TOKEN_URL_SUFFIX):
        problems.append(f"tokenurl ends with {TOKEN_URL_SUFFIX} (the operator appends tokenurlsuffix to it)")
    if problems:
        run.add(
            "secret",
            "fail",
            f"operator Secret {where}: {'; '.join(problems)}; the operator rejects it as invalid "
            "Service-Manager credentials",
            f"{_up(run.stack)} (re-writes the Secret from the binding)",
        )
        return None if missing else secret
    labels = _label_problems(secret.labels, {**SECRET_LABELS, LABEL_TENANT: config.namespace})
    if labels:
        run.add(
            "secret",
            "warn",
            f"operator Secret {where} has its keys, but labels drifted: {'; '.join(labels)} (without "
            "managed-by-sap-btp-operator, Kyma's limited-cache operator needs an extra API read per "
            "reconcile)",
            f"{_up(run.stack)} (restores the labels)",
        )
    else:
        run.add(
            "secret", "pass", f"operator Secret {where} has the {config.credential_type} keys and its labels"
        )
    return secret


def _check_precedence(run: _Run, kube: KubeClient, secret: Secret | None) -> None:
    """``secret.precedence``: what the operator resolves instead of, or after, our Secret (§A.1)."""
    config = run.config
    ns, mgmt = config.namespace, config.management_namespace
    in_namespace = f"{ns}/{OPERATOR_SECRET_BASE_NAME}"
    in_management = f"{mgmt}/{ns}-{OPERATOR_SECRET_BASE_NAME}"
    fails: list[str] = []
    warns: list[str] = []
    fixes: list[str] = []
    if config.secret_placement == "management":
        shadow = kube.get_secret(ns, OPERATOR_SECRET_BASE_NAME)
        if shadow is not None:
            run.secrets(shadow.data.get(k) for k in _SECRET_DATA_KEYS)
            fails.append(
                f"Secret {in_namespace} shadows {in_management}: the operator resolves the namespace's "
                "Secret first, so this tenant's instances use its credentials"
            )
            fixes.append(
                f"delete Secret {in_namespace} (kubectl -n {ns} delete secret {OPERATOR_SECRET_BASE_NAME})"
            )
    else:
        stale = kube.get_secret(mgmt, f"{ns}-{OPERATOR_SECRET_BASE_NAME}")
        if stale is not None:
            run.secrets(stale.data.get(k) for k in _SECRET_DATA_KEYS)
            same = secret is not None and _same_credentials(stale.data, secret.data)
            if not same:
                warns.append(
                    f"Secret {in_management} holds other credentials: if {in_namespace} is ever missing, the "
                    "operator falls back to it instead of failing"
                )
                fixes.append(f"delete Secret {in_management} if nothing else uses it")
    explicit = sorted(
        f"{o.name} → {mgmt}/{o.raw.get('spec', {}).get(EXPLICIT_SECRET_FIELD)}"
        for o in kube.list_operator_objects("ServiceInstance", ns)
        if isinstance(o.raw.get("spec"), Mapping) and o.raw["spec"].get(EXPLICIT_SECRET_FIELD)
    )
    if explicit:
        warns.append(
            f"{len(explicit)} ServiceInstance(s) name their own credentials ({EXPLICIT_SECRET_FIELD}, "
            f"resolved before any namespace Secret) and may live in another subaccount: {', '.join(explicit)}"
        )
        fixes.append(f"remove spec.{EXPLICIT_SECRET_FIELD} where the tenant's subaccount is meant")
    if fails or warns:
        run.add("secret.precedence", "fail" if fails else "warn", "; ".join(fails + warns), "; ".join(fixes))
    else:
        order = (
            f"{in_namespace} is resolved first"
            if config.secret_placement == "namespace"
            else f"nothing in namespace {ns} shadows {in_management}"
        )
        run.add("secret.precedence", "pass", f"no other Secret takes precedence: {order}")


def _same_credentials(
    left: Mapping[str, str], right: Mapping[str, str], keys: Iterable[str] | None = None
) -> bool:
    names = set(keys) if keys is not None else set(left) | set(right)
    return all(hmac.compare_digest(left.get(k, "").encode(), right.get(k, "").encode()) for k in names)


def _token_source(
    data: Mapping[str, str], credential_type: str
) -> ClientCredentialsTokenSource | X509TokenSource:
    token_url = data["tokenurl"].rstrip("/") + data.get("tokenurlsuffix", TOKEN_URL_SUFFIX)
    if credential_type == "x509":
        return X509TokenSource(token_url, data["clientid"], data["tls.crt"], data["tls.key"])
    return ClientCredentialsTokenSource(token_url, data["clientid"], data["clientsecret"], style="body")


def _check_credentials(run: _Run, secret: Secret) -> None:
    """``credentials.token``, ``credentials.service-manager`` and (x509) ``credentials.expiry``."""
    config, data = run.config, secret.data
    ctype = config.credential_type
    if ctype == "x509":
        _check_expiry(run, data.get("tls.crt", ""))
    tokens = _token_source(data, ctype)
    try:
        try:
            grant = tokens.grant(timeout=(run.options.retry_policy.connect_timeout, 30.0))
        except BtpError as err:
            run.add(
                "credentials.token",
                "fail",
                f"the Secret's {ctype} credentials obtain no token: {err}; the operator cannot reach Service "
                "Manager for this namespace",
                f"{_up(run.stack)} (a lost or deleted binding is re-created and the Secret re-written)",
            )
            return
        run.secrets([grant.access_token.get_secret_value()])
        run.add("credentials.token", "pass", f"the Secret's {ctype} credentials obtain a token")
        try:
            source = f"Secret {secret.namespace}/{secret.name}"
            creds = parse_binding_credentials(binding_credentials(data, ctype), source=source)
            with ServiceManagerClient(creds, retry_policy=run.options.retry_policy) as sm:
                sm.list_offerings(field_query=f"name eq '{OPERATOR_OFFERING}'")  # one small page
        except BtpError as err:
            run.add(
                "credentials.service-manager",
                "fail",
                f"Service Manager at {data['sm_url']} refuses the Secret's token: {err}",
                "check sm_url in the Secret; " + _up(run.stack),
            )
        else:
            run.add(
                "credentials.service-manager",
                "pass",
                f"the token reaches Service Manager at {data['sm_url']}",
            )
    finally:
        tokens.close()


def _certificate_expiry(pem: str) -> datetime:
    from cryptography import x509  # the first certificate of the chain is the client's

    return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc


def _check_expiry(run: _Run, pem: str) -> None:
    try:
        expires = _certificate_expiry(pem)
    except ValueError:
        run.add(
            "credentials.expiry",
            "fail",
            "tls.crt of the operator Secret is not a PEM certificate",
            _up(run.stack) + " (re-writes the Secret from the binding)",
        )
        return
    now = run.options.now()
    left = expires - now
    rotate = f"btp-infra rotate --stack {run.stack} (a new binding, then the Secret, before the old one goes)"
    stamp = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    if left <= timedelta(0):
        run.add(
            "credentials.expiry",
            "fail",
            f"the x509 certificate expired at {stamp}: the operator obtains no token for this namespace",
            rotate,
        )
    elif left <= run.options.expiry_window:
        run.add(
            "credentials.expiry",
            "warn",
            f"the x509 certificate expires at {stamp}, in {_human(left)} (inside the "
            f"{_human(run.options.expiry_window)} window)",
            rotate + "; for longer lifetimes set btp-infra:x509 validity",
        )
    else:
        run.add(
            "credentials.expiry", "pass", f"the x509 certificate is valid until {stamp} ({_human(left)} left)"
        )


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return (
            f"{seconds // 86400}d{(seconds % 86400) // 3600}h"
            if seconds % 86400 >= 3600
            else f"{seconds // 86400}d"
        )
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60}m"
    return f"{max(seconds, 0) // 60}m"


# ---- BTP -----------------------------------------------------------------------------------------------


def _check_btp(run: _Run, cis_key: CisServiceKey, secret: Secret | None) -> None:
    config = run.config
    run.secrets([cis_key.uaa.clientsecret.get_secret_value()])
    policy = run.options.retry_policy
    with AccountsClient(cis_key, retry_policy=policy) as accounts:
        guid = tenant_subaccount(config, accounts)
        if guid is None:
            run.add(
                "btp.subaccount",
                "fail",
                f"the subaccount this stack creates, {config.subaccount_ref}, does not exist; BTP checks "
                "not run",
                f"{_up(run.stack)} (creates it)",
            )
            return
        try:
            sub = accounts.get_subaccount(guid)
        except NotFoundError:
            run.add(
                "btp.subaccount",
                "fail",
                f"subaccount {guid} does not exist (or is not in the global account of the cis key); "
                "BTP checks not run",
                "check btp-infra:subaccountId and the cis key",
            )
            return
        if not sub.ready:
            run.add(
                "btp.subaccount",
                "warn",
                f"subaccount {guid} ({sub.subdomain}) is in state {sub.state}"
                + (f": {sub.state_message}" if sub.state_message else ""),
                "wait for state OK",
            )
        else:
            run.add("btp.subaccount", "pass", f"subaccount {guid} ({sub.subdomain}) is OK")
        admin = accounts.get_service_management_binding(guid)
    _check_entitlements(run, cis_key, guid)
    if admin is None:
        run.add(
            "btp.admin-access",
            "fail",
            f"subaccount {guid} has no Service Manager admin access (serviceManagementBinding); verify "
            "creates nothing, so instance and binding checks not run",
            f"{_up(run.stack)} (restores it)",
        )
        return
    run.secrets([admin.clientsecret.get_secret_value()])
    run.add("btp.admin-access", "pass", f"subaccount {guid} has Service Manager admin access")
    with ServiceManagerClient(admin, retry_policy=policy) as sm:
        instance = _check_instance(run, sm)
        if instance is not None:
            binding = _check_binding(run, sm, instance)
            if binding is not None and secret is not None:
                _check_current(run, binding, secret)


def _check_entitlements(run: _Run, cis_key: CisServiceKey, guid: str) -> None:
    config = run.config
    with EntitlementsClient(cis_key, retry_policy=run.options.retry_policy) as entitlements:
        for spec in config.all_entitlements:
            name = f"btp.entitlement {spec.service}/{spec.plan}"
            found = entitlements.get_assignment(guid, spec.service, spec.plan)
            if found is None:
                run.add(
                    name,
                    "fail",
                    f"{spec.service}/{spec.plan} is not assigned to the subaccount",
                    _up(run.stack),
                )
            elif found.entity_state == "OK":
                amount = f" (amount {found.amount:g})" if found.amount is not None else ""
                if spec.amount is not None and found.amount is not None and found.amount != spec.amount:
                    run.add(
                        name,
                        "warn",
                        f"{spec.service}/{spec.plan} is OK but its amount is {found.amount:g} "
                        f"(stack: {spec.amount})",
                        _up(run.stack),
                    )
                else:
                    run.add(name, "pass", f"{spec.service}/{spec.plan} is OK{amount}")
            elif found.entity_state in ("STARTED", "PROCESSING"):
                run.add(
                    name,
                    "warn",
                    f"{spec.service}/{spec.plan} is {found.entity_state}",
                    "wait, then verify again",
                )
            else:
                message = f": {found.state_message}" if found.state_message else ""
                run.add(
                    name,
                    "fail",
                    f"{spec.service}/{spec.plan} is {found.entity_state}{message}",
                    _up(run.stack),
                )


def _entity_state(entity: ServiceInstance | ServiceBinding) -> tuple[Status, str]:
    op = entity.last_operation
    if op is not None and op.state == "failed":
        return "fail", f"its last {op.type or 'operation'} failed: {op.failure_text() or 'no details'}"
    if op is not None and op.in_progress:
        return "warn", f"its {op.type or 'operation'} is in progress"
    if not entity.ready:
        return "fail", "it is not ready"
    return "pass", "ready"


def _add_state(run: _Run, name: str, status: Status, reason: str) -> None:
    """The check of an SM object's state; its fix (:func:`_up`) only where it did not pass."""
    run.add(name, status, reason, None if status == "pass" else _up(run.stack))


def _check_instance(run: _Run, sm: ServiceManagerClient) -> ServiceInstance | None:
    config = run.config
    name = config.instance_name
    instance = sm.find_instance(name)
    if instance is None:
        run.add(
            "btp.instance",
            "fail",
            f"the service-operator-access instance {name} does not exist; binding checks not run",
            _up(run.stack),
        )
        return None
    status, state = _entity_state(instance)
    labels = (
        ""
        if is_tenants(instance, config.namespace)
        else (
            f"; it lacks btp-infra's labels for tenant {config.namespace} ({SM_TENANT_LABEL}): not "
            "created or adopted by this stack"
        )
    )
    if labels and status == "pass":
        status = "warn"
    _add_state(run, "btp.instance", status, f"instance {name} ({instance.id}): {state}{labels}")
    return instance


def _check_binding(run: _Run, sm: ServiceManagerClient, instance: ServiceInstance) -> ServiceBinding | None:
    name = run.config.binding_name
    binding = sm.find_binding(name, instance.id)
    if binding is None:
        run.add(
            "btp.binding",
            "fail",
            f"binding {name} of instance {instance.name} does not exist: the Secret's credentials are "
            "not those of the binding btp-infra manages",
            _up(run.stack),
        )
        return None
    full = sm.get_binding(binding.id) or binding  # a listing may omit credentials
    credentials = full.credentials.get_secret_value()
    run.secrets(credentials.get(k) for k in _BINDING_SECRET_FIELDS)
    status, state = _entity_state(full)
    _add_state(run, "btp.binding", status, f"binding {name} ({full.id}): {state}")
    return full


def _check_current(run: _Run, binding: ServiceBinding, secret: Secret) -> None:
    """``btp.binding.current``: the Secret holds exactly what the binding's credentials map to."""
    ctype = run.config.credential_type
    try:
        wanted = secret_data(binding.credentials.get_secret_value(), ctype)
    except KeyError as err:
        run.add("btp.binding.current", "fail", f"binding {binding.name}: {err.args[0]}", _up(run.stack))
        return
    differ = sorted(k for k in wanted if not _same_credentials(wanted, secret.data, [k]))
    if differ:
        verb = "differs" if len(differ) == 1 else "differ"
        run.add(
            "btp.binding.current",
            "fail",
            f"the Secret's {', '.join(differ)} {verb} from binding {binding.name}'s current credentials "
            "(values not shown): a stale or hand-edited Secret",
            f"{_up(run.stack)} (re-writes the Secret from the binding)",
        )
    else:
        run.add(
            "btp.binding.current", "pass", f"the Secret holds binding {binding.name}'s current credentials"
        )


# ---- entry point ---------------------------------------------------------------------------------------


def verify_tenant(
    stack: str,
    config: TenantConfig,
    *,
    kube: KubeClient | None,
    cis_key: CisServiceKey | None,
    options: VerifyOptions | None = None,
    kube_problem: str | None = None,
    cis_problem: str | None = None,
) -> StackReport:
    """Every check of one tenant. ``kube`` / ``cis_key`` None: that side is reported failed with
    ``kube_problem`` / ``cis_problem`` (why there is no client) and its checks are not run."""
    run = _Run(stack, config, options or VerifyOptions())
    secret: Secret | None = None
    if kube is None:
        run.add(
            "kubernetes",
            "fail",
            kube_problem or "no Kubernetes access",
            "check btp-infra:kubeconfig / kubeContext",
        )
    else:
        try:
            if _check_namespace(run, kube):
                _check_pods(run, kube)
            _check_operator_config(run, kube)
            secret = _check_secret(run, kube)
            _check_precedence(run, kube, secret)
        except KubeError as err:
            run.add(
                "kubernetes",
                "fail",
                str(err),
                "check the cluster and btp-infra:kubeContext, then verify again",
            )
        if secret is not None:
            _check_credentials(run, secret)
    if cis_key is None:
        run.add(
            "btp", "fail", (cis_problem or "no cis service key") + "; BTP checks not run", "btp-infra login"
        )
    else:
        try:
            _check_btp(run, cis_key, secret)
        except BtpError as err:
            run.add(
                "btp",
                "fail",
                f"{err}; further BTP checks not run",
                "check the cis key and BTP, then verify again",
            )
    # Once more with every secret seen by the end: a text recorded before a secret was read (a server
    # echoing a binding secret in an early error) must not keep it.
    run.report.checks = [
        Check(c.name, c.status, run.redact(c.reason), run.redact.optional(c.fix)) for c in run.report.checks
    ]
    return run.report


def kube_client_for(
    config: TenantConfig, *, kubeconfig: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[KubeClient | None, str | None]:
    """The cluster of a stack as its Kubernetes provider sees it: ``kubeconfig`` (``--kubeconfig``), else
    the stack's ``btp-infra:kubeconfig`` (a path or the content), else ``$KUBECONFIG`` / ``~/.kube/config``;
    always the stack's ``kubeContext``. A kubeconfig that is a Pulumi secret cannot be decrypted offline: then
    ``$KUBECONFIG`` is used when set, else there is no client. Returns (client, why there is none)."""
    env = os.environ if environ is None else environ
    source: str | None = kubeconfig or config.kubeconfig_value
    if source is None and config.kubeconfig is not None and not env.get("KUBECONFIG"):  # encrypted
        return None, (
            f"btp-infra:kubeconfig of {config.source} is a Pulumi secret, which verify cannot decrypt; "
            "give the cluster with --kubeconfig FILE or $KUBECONFIG"
        )
    try:
        return KubeClient.from_kubeconfig(source, config.kube_context), None
    except KubeError as err:
        return None, f"{err} (context {config.kube_context})"


def verify_stacks(
    stacks: Sequence[str],
    *,
    project_dir: str | Path = ".",
    options: VerifyOptions | None = None,
    kubeconfig: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> VerifyReport:
    """Verify each stack of ``stacks`` (names; ``org/project/name`` uses ``name``). A stack file that does
    not load is that stack's one failed ``config`` check (its one-line reason names file, key and value)."""
    from btp_infra.config import ConfigError, load_stack_file, stack_file_for
    from btp_infra.credentials import CredentialsError, resolve_for_tenant

    report = VerifyReport()
    for stack in stacks:
        path = stack_file_for(stack, project_dir)
        try:
            config = load_stack_file(path)
        except ConfigError as err:
            report.stacks.append(
                StackReport(
                    stack, checks=[Check("config", "fail", " ".join(str(err).split()), "btp-infra validate")]
                )
            )
            continue
        kube, kube_problem = kube_client_for(config, kubeconfig=kubeconfig, environ=environ)
        cis_key: CisServiceKey | None = None
        cis_problem: str | None = None
        try:
            cis_key = resolve_for_tenant(config, environ=environ).key
        except CredentialsError as err:
            cis_problem = str(err).splitlines()[0]
        try:
            report.stacks.append(
                verify_tenant(
                    stack,
                    config,
                    kube=kube,
                    cis_key=cis_key,
                    options=options,
                    kube_problem=kube_problem,
                    cis_problem=cis_problem,
                )
            )
        finally:
            if kube is not None:
                kube.close()
    return report
