"""``btp-infra verify`` through Click's CliRunner, from stack files in a project: the tenant's BTP side in the
emulator, its namespace and Secret in the stand-in Kubernetes API (reached through the kubeconfig the stack
names). Text, ``--json`` and ``--markdown``; exit 0 with warnings, 1 on a failure, 2 on bad usage; no secret
in any output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2
from kube_fixtures import pod_object
from operations.support import Deployed, deploy, leaked_in, tenant

from btp_infra.btp.keys import CisServiceKey
from btp_infra.cli import main as cli
from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.kube_api import KubeApiStandIn


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", *args], catch_exceptions=False)


@pytest.fixture
def kubeconfig(tmp_path: Path, kube_api: KubeApiStandIn) -> Path:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(kube_api.kubeconfig(context="stand-in"), encoding="utf-8")
    return path


def stack_file(project: Path, name: str, *, namespace: str, subaccount: str, extra: str = "") -> Path:
    path = project / "stacks" / f"Pulumi.{name}.yaml"
    path.write_text(
        f"config:\n  btp-infra:namespace: {namespace}\n  btp-infra:subaccountId: {subaccount}\n"
        f"  btp-infra:kubeContext: stand-in\n{extra}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def orders(
    project: Path,
    sb: SandboxServer,
    kube_api: KubeApiStandIn,
    kubeconfig: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Deployed:
    """Stack ``orders`` (kubeconfig by path), deployed; the cis key in the environment."""
    for name in (ENV_KEY_FILE, ENV_PROFILE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sb.ca_path)
    stack_file(
        project,
        "orders",
        namespace="orders",
        subaccount=SUBACCOUNT_1,
        extra=f"  btp-infra:kubeconfig: {kubeconfig}\n",
    )
    cis = CisServiceKey.parse(sb.cis_service_key(), source="sandbox")
    return deploy(sb, kube_api, cis, tenant())


def clean(result: Result, sb: SandboxServer, kube_api: KubeApiStandIn) -> Result:
    assert leaked_in([result.output], sb, kube_api) == []
    return result


def test_a_healthy_tenant_passes(orders: Deployed, sb: SandboxServer, kube_api: KubeApiStandIn) -> None:
    result = clean(run("--stack", "orders"), sb, kube_api)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"orders — namespace orders ↔ subaccount {SUBACCOUNT_1}: pass"
    assert "✔ pass btp.binding.current: the Secret holds binding" in result.output
    assert result.output.endswith("1 stack(s): 0 failed, 0 warning(s), 13 passed\n")
    assert kube_api.requests(writes=True) == []


def test_warnings_exit_zero_and_failures_exit_one_in_json(
    orders: Deployed, sb: SandboxServer, kube_api: KubeApiStandIn
) -> None:
    kube_api.seed(pod_object("orders", "legacy", ("app",)))
    warned = clean(run("--stack", "orders", "--json"), sb, kube_api)
    assert warned.exit_code == 0
    document = json.loads(warned.stdout)
    assert document["version"] == 1 and document["status"] == "warn"
    [stack] = document["stacks"]
    assert {c["name"]: c["status"] for c in stack["checks"]}["namespace.pods"] == "warn"
    with kube_api.lock:
        del kube_api.store[("", "secrets", "orders", "sap-btp-service-operator")]
    failed = clean(run("--stack", "orders", "--json"), sb, kube_api)
    assert failed.exit_code == 1
    checks = {c["name"]: c for c in json.loads(failed.stdout)["stacks"][0]["checks"]}
    assert checks["secret"]["status"] == "fail" and "btp-infra up --stack orders" in checks["secret"]["fix"]


def test_markdown_for_pull_request_comments(
    orders: Deployed, sb: SandboxServer, kube_api: KubeApiStandIn
) -> None:
    result = clean(run("--stack", "orders", "--markdown"), sb, kube_api)
    assert result.exit_code == 0
    assert result.output.startswith("### ✅ verify: 0 failed, 0 warning(s), 13 passed")
    assert "| ✅ | `btp.binding.current` |" in result.output


def test_all_stacks_with_one_broken_stack_file(
    orders: Deployed, project: Path, sb: SandboxServer, kube_api: KubeApiStandIn
) -> None:
    stack_file(project, "broken", namespace="Not_A_Namespace", subaccount=SUBACCOUNT_2)
    result = clean(run("--all"), sb, kube_api)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    broken = lines.index("broken: fail")
    assert "config:" in lines[broken + 1] and "btp-infra:namespace" in lines[broken + 1]
    assert "Not_A_Namespace" in lines[broken + 1]
    assert f"orders — namespace orders ↔ subaccount {SUBACCOUNT_1}: pass" in lines
    assert result.output.endswith("2 stack(s): 1 failed, 0 warning(s), 13 passed\n")


def test_an_encrypted_kubeconfig_needs_kubeconfig_or_the_environment(
    orders: Deployed,
    project: Path,
    kubeconfig: Path,
    sb: SandboxServer,
    kube_api: KubeApiStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    stack_file(
        project,
        "orders",
        namespace="orders",
        subaccount=SUBACCOUNT_1,
        extra="  btp-infra:kubeconfig:\n    secure: v1:AAAABBBBCCCCDDDD\n",
    )
    refused = clean(run("--stack", "orders"), sb, kube_api)
    assert refused.exit_code == 1
    assert "kubernetes: btp-infra:kubeconfig of" in refused.output and "--kubeconfig FILE" in refused.output
    assert "btp.binding.current" not in refused.output  # no Secret read, so no comparison
    given = clean(run("--stack", "orders", "--kubeconfig", str(kubeconfig)), sb, kube_api)
    assert given.exit_code == 0, given.output
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert run("--stack", "orders").exit_code == 0


def test_no_cis_key_fails_the_btp_side_only(
    orders: Deployed, sb: SandboxServer, kube_api: KubeApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEY)
    result = clean(run("--stack", "orders"), sb, kube_api)
    assert result.exit_code == 1
    assert "✘ fail btp: " in result.output and "✔ pass credentials.token" in result.output


def test_the_expiry_window_option(
    project: Path,
    sb: SandboxServer,
    kube_api: KubeApiStandIn,
    kubeconfig: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sb.ca_path)
    extra = f"  btp-infra:kubeconfig: {kubeconfig}\n  btp-infra:credentialType: x509\n"
    stack_file(project, "orders", namespace="orders", subaccount=SUBACCOUNT_1, extra=extra)
    deploy(
        sb,
        kube_api,
        CisServiceKey.parse(sb.cis_service_key(), source="sandbox"),
        tenant(credentialType="x509"),
    )
    default = clean(run("--stack", "orders"), sb, kube_api)
    assert default.exit_code == 0 and "! warn credentials.expiry" in default.output
    short = clean(run("--stack", "orders", "--expiry-window", "2d"), sb, kube_api)
    assert "✔ pass credentials.expiry" in short.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "select stacks: --stack NAME (repeatable) or --all"),
        (("--stack", "orders", "--all"), "use either --stack or --all"),
        (("--stack", "orders", "--json", "--markdown"), "use either --json or --markdown"),
        (("--stack", "nope"), "no stack file for nope"),
        (
            ("--stack", "orders", "--expiry-window", "30"),
            "'30' is not a duration; valid: a number with a unit",
        ),
    ],
)
def test_bad_usage_exits_two_before_any_call(
    project: Path, kube_api: KubeApiStandIn, args: tuple[str, ...], message: str
) -> None:
    stack_file(project, "orders", namespace="orders", subaccount=SUBACCOUNT_1)
    result = run(*args)
    assert result.exit_code == 2 and message in result.output
    assert kube_api.requests() == []
