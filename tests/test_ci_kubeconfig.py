"""deploy/ci-kubeconfig: the ServiceAccount, RBAC and token Secret CI logs in with, validated against the
Kubernetes published schemas (``kubernetes-validate``, schemas bundled), and a ClusterRole/Role set that
grants exactly the kinds btp-infra's program creates (derived from a render of the example stacks under
mocks)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_infra.operations.verify import OPERATOR_CONFIG_MAP

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "deploy" / "ci-kubeconfig"
SA = {"kind": "ServiceAccount", "name": "btp-infra-ci", "namespace": "btp-infra-ci"}
WRITE = {"get", "list", "watch", "create", "update", "patch", "delete"}
#: Kinds the program creates that are not in Kubernetes' published schemas: checked via the RBAC rules only.
NOT_CORE = {("security.istio.io", "PeerAuthentication")}


def documents(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    if path.suffix == ".tmpl":
        text = text.replace("${TENANT_NAMESPACE}", "orders")
    return [d for d in yaml.safe_load_all(text) if d]


def manifests() -> list[Path]:
    return sorted(p for p in HERE.iterdir() if p.name.endswith((".yaml", ".yaml.tmpl")))


def objects() -> list[dict[str, Any]]:
    return [d for p in manifests() if p.name != "kustomization.yaml" for d in documents(p)]


def by_name(kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize(
    "path", [p for p in manifests() if p.name != "kustomization.yaml"], ids=lambda p: p.name
)
def test_every_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    import kubernetes_validate

    for document in documents(path):
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_kustomization_lists_every_default_manifest() -> None:
    [kustomization] = documents(HERE / "kustomization.yaml")
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in manifests() if p.suffix == ".yaml" and p.name != "kustomization.yaml"}
    for name in listed:
        assert (HERE / name).is_file()


def test_a_long_lived_token_for_the_service_account() -> None:
    account = by_name("ServiceAccount", "btp-infra-ci")
    assert account["metadata"]["namespace"] == "btp-infra-ci"
    token = by_name("Secret", "btp-infra-ci-token")
    assert token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "btp-infra-ci"
    assert token["metadata"]["namespace"] == "btp-infra-ci"


def test_every_binding_binds_only_the_ci_service_account() -> None:
    bindings = [o for o in objects() if o["kind"] in {"RoleBinding", "ClusterRoleBinding"}]
    assert bindings
    roles = {(o["kind"], o["metadata"]["name"]) for o in objects() if o["kind"] in {"Role", "ClusterRole"}}
    for binding in bindings:
        assert binding["subjects"] == [SA]
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in roles
        if binding["roleRef"]["kind"] == "Role":
            assert (
                binding["metadata"]["namespace"]
                == by_name("Role", binding["roleRef"]["name"])["metadata"]["namespace"]
            )


def plural(kind: str) -> str:
    lower = kind.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + "s"


def created_kinds() -> set[tuple[str, str]]:
    """(API group, Kind) of every Kubernetes object the program registers for the example stacks, in every
    placement and with every optional guardrail switched on."""
    from btp_infra.config.engine import engine_config
    from btp_infra.offline.rendering import render
    from btp_infra.program import main

    kinds: set[tuple[str, str]] = set()
    variants = [
        {},
        {"btp-infra:secretPlacement": "management", "btp-infra:managementNamespace": "kyma-system"},
        {"btp-infra:networkPolicy": "default-deny", "btp-infra:mtls": "true"},
    ]
    stacks = sorted((ROOT / "examples" / "stacks").glob("Pulumi.*.yaml"))
    assert stacks
    for path in stacks:
        for extra in variants:
            result = render(path.name.split(".")[1], {**engine_config(path), **extra}, main)
            assert result.error is None, result.error
            for resource in result.resources:
                match = re.fullmatch(r"kubernetes:([^/:]+)/([^:]+):(\w+)", resource.type)
                if match:
                    group = "" if match[1] == "core" else match[1]
                    kinds.add((group, match[3]))
    return kinds


def granted(rules: list[dict[str, Any]], *, named: bool = False) -> dict[tuple[str, str], set[str]]:
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        assert named or "resourceNames" not in rule
        assert "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert "*" not in (group, resource) and "*" not in rule["verbs"]
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


def test_the_roles_grant_exactly_what_the_program_creates() -> None:
    kinds = created_kinds()
    assert {("", "Namespace"), ("", "Secret"), ("security.istio.io", "PeerAuthentication")} <= kinds
    namespaced = {(group, plural(kind)) for group, kind in kinds if kind != "Namespace"}
    assert granted(by_name("ClusterRole", "btp-infra-ci-namespaces")["rules"]) == {("", "namespaces"): WRITE}
    assert granted(by_name("ClusterRole", "btp-infra-ci-tenant")["rules"]) == {r: WRITE for r in namespaced}
    # Placement `management`: Secrets only, in the management namespace only.
    role = by_name("Role", "btp-infra-ci-management-secrets")
    assert role["metadata"]["namespace"] == "kyma-system"
    assert granted(role["rules"]) == {("", "secrets"): WRITE}
    # The read checks (offboarding, verify) read and write nothing; the operator's ConfigMap by name only.
    role = by_name("ClusterRole", "btp-infra-ci-read-checks")
    check = granted(role["rules"], named=True)
    assert check == {
        ("services.cloud.sap.com", "serviceinstances"): {"get", "list"},
        ("services.cloud.sap.com", "servicebindings"): {"get", "list"},
        ("", "pods"): {"list"},
        ("", "configmaps"): {"get"},
    }
    [config_rule] = [r for r in role["rules"] if "configmaps" in r["resources"]]
    assert config_rule["resourceNames"] == [OPERATOR_CONFIG_MAP]


def test_the_istio_rule_names_the_real_api_group_and_resource() -> None:
    """PeerAuthentication has no published Kubernetes schema: the rule must use Istio's group and plural."""
    tenant = granted(by_name("ClusterRole", "btp-infra-ci-tenant")["rules"])
    assert ("security.istio.io", "peerauthentications") in tenant
    assert created_kinds() >= NOT_CORE


def test_the_tenant_role_is_bound_cluster_wide_by_default_or_per_namespace() -> None:
    cluster_wide = by_name("ClusterRoleBinding", "btp-infra-ci-tenant")
    assert cluster_wide["roleRef"]["name"] == "btp-infra-ci-tenant"
    [per_namespace] = documents(HERE / "binding-per-namespace.yaml.tmpl")
    assert per_namespace["kind"] == "RoleBinding"
    assert per_namespace["metadata"]["namespace"] == "orders"
    assert per_namespace["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "btp-infra-ci-tenant",
    }


# --------------------------------------------------------------------------------------------------
# print-kubeconfig.sh, run for real with kubectl; only `kubectl get secret` is answered by a stub.
# --------------------------------------------------------------------------------------------------

TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLWZvci10ZXN0.sig"
CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def test_print_kubeconfig_prints_a_working_service_account_kubeconfig(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    admin = tmp_path / "admin.yaml"
    admin.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kyma", "cluster": {"server": "https://api.kyma.example:443"}}],
                "users": [{"name": "admin", "user": {"token": "admin-token"}}],
                "contexts": [{"name": "kyma-prod", "context": {"cluster": "kyma", "user": "admin"}}],
                "current-context": "kyma-prod",
            }
        )
    )
    stub = tmp_path / "kubectl"
    stub.write_text(
        "#!/usr/bin/env bash\n"
        'for a in "$@"; do if [ "$a" = secret ]; then\n'
        '  case "$*" in *ca*) printf %s "$FAKE_CA";; *) printf %s "$FAKE_TOKEN";; esac; exit 0; fi; done\n'
        f'exec {kubectl} "$@"\n'
    )
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env |= {
        "KUBECONFIG": str(admin),
        "KUBECTL": str(stub),
        "FAKE_TOKEN": base64.b64encode(TOKEN.encode()).decode(),
        "FAKE_CA": base64.b64encode(CA.encode()).decode(),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(HERE / "print-kubeconfig.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stderr
    config = yaml.safe_load(done.stdout)
    assert config["current-context"] == "kyma-prod"  # = the stacks' btp-infra:kubeContext
    [user] = config["users"]
    assert user == {"name": "btp-infra-ci", "user": {"token": TOKEN}}
    [cluster] = config["clusters"]
    assert cluster["cluster"]["server"] == "https://api.kyma.example:443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode() == CA
    [context] = config["contexts"]
    assert context["context"] == {"cluster": "kyma", "user": "btp-infra-ci", "namespace": "btp-infra-ci"}
    assert "admin-token" not in done.stdout
    # The written kubeconfig is usable by kubectl itself.
    out = tmp_path / "ci.yaml"
    out.write_text(done.stdout)
    view = subprocess.run(
        [kubectl, "--kubeconfig", str(out), "config", "view", "--minify", "-o", "jsonpath={.users[0].name}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert view.stdout == "btp-infra-ci"


def test_print_kubeconfig_never_traces_and_never_passes_the_token_on_a_command_line() -> None:
    lines = (HERE / "print-kubeconfig.sh").read_text().splitlines()
    script = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    assert "set -x" not in script and "set +x" in script
    assert '--token "$' not in script and "--token=$" not in script
    assert os.access(HERE / "print-kubeconfig.sh", os.X_OK)
