"""``btp-infra plan``: shipped stacks pass, broken stacks fail with the expected rules and exit codes, the
JSON schema is stable, and no secret ever reaches the output."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from click.testing import CliRunner
from pulumi.dynamic.dynamic import serialize_provider
from pulumi_policy import ResourceValidationPolicy

from btp_infra.cli import main as cli
from btp_infra.config import discover_stacks, engine_config
from btp_infra.offline import runner as planning
from btp_infra.offline.analyzer import PackAnalyzer
from btp_infra.offline.rendering import render
from btp_infra.operator_secret import SECRET_LABELS
from btp_infra.program import load_config
from btp_infra.program import main as tenant_program
from btp_infra.providers import ServiceInstance, SubaccountCheckProvider

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "plan"
#: The shipped examples; stacks/ belongs to the users and is never read by the tests.
EXAMPLES = ROOT / "examples" / "stacks"
DOC = ROOT / "docs" / "plan-json.md"

LEAKY_VALUES = ("PLAINTEXT-CIS-SECRET-7d1f0c9e", "sb-cis-leaky-clientid")
KUBE_TOKEN = "KUBE-TOKEN-PLAINTEXT-4b2e9a"
GRAPH_SECRET = "graph-secret-value-93ac1f"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["plan", *args], catch_exceptions=False)
    return result.exit_code, result.output


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, output = run_cli("--json", *args)
    return code, json.loads(output)


def stack(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in data["stacks"] if s["stack"] == name)


def policies_of(entry: dict[str, Any], level: str | None = None) -> set[str]:
    return {v["policy"] for v in entry["violations"] if level is None or v["enforcementLevel"] == level}


# ------------------------------------------------------------------------------------------------------------
# Shipped stacks
# ------------------------------------------------------------------------------------------------------------


def test_every_shipped_stack_passes() -> None:
    shipped = discover_stacks(EXAMPLES)
    assert shipped, "the repository ships example stacks"
    code, data = run_json("--all", "--stacks-dir", str(EXAMPLES))
    assert code == 0
    assert [s["file"] for s in data["stacks"]] == [str(p) for p in shipped]
    for entry in data["stacks"]:
        assert entry["status"] in ("passed", "advisory"), entry
        assert not policies_of(entry, "mandatory")
        assert entry["resources"], "the stack was rendered"
    assert data["summary"]["exitCode"] == 0


def test_shipped_stacks_human_output() -> None:
    code, output = run_cli("--stacks-dir", str(EXAMPLES))
    assert code == 0
    assert "== example (" in output and "kubernetes:core/v1:Namespace" in output
    assert "pulumi-python:dynamic/btp:ServiceBinding" in output
    assert output.rstrip().splitlines()[-1].startswith("Plan: 2 stack(s):")


# ------------------------------------------------------------------------------------------------------------
# Broken stacks
# ------------------------------------------------------------------------------------------------------------


def test_invalid_configs_fail_without_hiding_other_stacks() -> None:
    code, data = run_json("--stacks-dir", str(FIXTURES / "mixed"))
    assert code == 1
    assert [s["stack"] for s in data["stacks"]] == ["good", "invalid", "leaky"]  # stack-file order
    assert stack(data, "good")["status"] == "passed"
    assert stack(data, "good")["resources"]
    invalid = stack(data, "invalid")
    assert invalid["status"] == "invalid-config"
    assert invalid["error"]["kind"] == "invalid-config"
    assert "btp-infra:subaccountId" in invalid["error"]["message"]
    assert "is a system namespace" in invalid["error"]["message"]
    assert stack(data, "leaky")["status"] == "invalid-config"
    assert data["summary"] == {
        "stacks": 3,
        "passed": 1,
        "advisory": 0,
        "failed": 0,
        "invalidConfig": 2,
        "errors": 0,
        "mandatoryViolations": 0,
        "advisoryViolations": 0,
        "exitCode": 1,
    }


def test_same_namespace_in_two_stacks_names_both_files() -> None:
    code, data = run_json("--stacks-dir", str(FIXTURES / "duplicates"))
    assert code == 1
    beta = stack(data, "beta")
    assert beta["status"] == "failed"
    fleet = [v for v in beta["violations"] if v["policy"] == planning.FLEET_POLICY]
    assert len(fleet) == 2 and {v["source"] for v in fleet} == {"fleet"}
    assert all("Pulumi.alpha.yaml" in v["message"] and "Pulumi.beta.yaml" in v["message"] for v in fleet)
    assert stack(data, "alpha")["status"] == "advisory"
    # Fleet checks cover the selected stacks only.
    assert run_json("--stacks-dir", str(FIXTURES / "duplicates"), "--stack", "alpha")[0] == 0


def test_policy_config_decides_what_fails() -> None:
    policy = FIXTURES / "policy"
    code, data = run_json("--stacks-dir", str(policy))
    assert (
        code == 1
    )  # the Secret sits in btp-operator, which the policy does not know as a management namespace
    assert policies_of(stack(data, "hana"), "mandatory") == {
        "btp-tenant-operator-secret",
        "btp-tenant-operator-secret-present",
    }
    code, data = run_json(
        "--stacks-dir", str(policy), "--policy-config", str(policy / "moved-management.json")
    )
    assert code == 0
    assert stack(data, "hana")["status"] == "advisory"
    assert policies_of(stack(data, "hana")) == {"btp-tenant-resource-quota", "btp-tenant-limit-range"}
    code, data = run_json("--stacks-dir", str(policy), "--policy-config", str(policy / "strict.json"))
    assert code == 1
    assert policies_of(stack(data, "hana"), "mandatory") == {
        "btp-tenant-resource-quota",
        "btp-tenant-entitlement-allowed",
    }
    levels = {p["name"]: p["enforcementLevel"] for p in data["policyPack"]["policies"]}
    assert levels["btp-tenant-resource-quota"] == "mandatory"


def broken_program() -> None:
    """A tenant program gone wrong: bad labels, a misnamed Secret, http URLs, an unentitled instance."""
    config = load_config()
    provider = k8s.Provider("kubernetes")
    opts = pulumi.ResourceOptions(provider=provider)
    ns = config.namespace
    k8s.core.v1.Namespace(
        f"{ns}-namespace",
        metadata={
            "name": ns,
            "labels": {"app.kubernetes.io/managed-by": "btp-infra", "btp-infra.io/tenant": ns},
        },
        opts=opts,
    )
    k8s.core.v1.Secret(
        f"{ns}-operator-secret",
        metadata={
            "name": f"sap-btp-service-operator-{ns}",
            "namespace": "kyma-system",
            "labels": {**SECRET_LABELS, "btp-infra.io/tenant": ns},
        },
        string_data={
            "clientid": "id",
            "clientsecret": GRAPH_SECRET,
            "sm_url": "http://sm.example.com",
            "tokenurl": "https://auth.example.com/oauth/token",
            "tokenurlsuffix": "/oauth/token",
        },
        opts=opts,
    )
    ServiceInstance(
        f"{ns}-hana",
        subaccount_id=str(config.subaccount_id),
        instance_name="hana",
        service_offering_name="hana-cloud",
        service_plan_name="hana",
    )


def test_broken_graph_fails_with_the_expected_rules() -> None:
    paths = [FIXTURES / "mixed" / "Pulumi.good.yaml"]
    report, scrub = planning.run_plan(paths, program=broken_program)
    assert report.exit_code == 1
    (entry,) = report.stacks
    assert entry.status == "failed"
    mandatory = {v.policy for v in entry.violations if v.mandatory}
    assert mandatory == {
        "btp-tenant-namespace-labels",
        "btp-tenant-operator-secret",
        "btp-tenant-operator-secret-present",
        "btp-tenant-entitlement-dependency",
    }
    messages = "\n".join(v.message for v in entry.violations)
    assert "istio-injection is missing" in messages
    assert "'good-tenant-sap-btp-service-operator' (prefix, not suffix)" in messages
    assert "sm_url is not an https URL" in messages
    assert "tokenurl already ends with /oauth/token" in messages
    assert "ServiceInstance 'good-tenant-hana' (hana-cloud/hana) has no SubaccountEntitlement" in messages
    secret_violation = next(v for v in entry.violations if v.policy == "btp-tenant-operator-secret")
    assert secret_violation.resource_type == "kubernetes:core/v1:Secret"
    for text in (planning.format_text(report, scrub), planning.format_json(report, scrub)):
        assert GRAPH_SECRET not in text
        assert "[secret]" in text


def test_hundreds_of_stacks_do_not_exhaust_the_recursion_limit() -> None:
    """pulumi.dynamic wraps pickle's ``_batch_setitems`` once more for every dynamic resource it serialises;
    rendering starts from the original each time, so a plan of hundreds of stacks does not hit RecursionError
    (it did after ~175 stacks). The wrapper chain of ~200 stacks is built directly here, then restored."""
    original = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    try:
        for _ in range(1000):
            with contextlib.suppress(RecursionError):
                serialize_provider(SubaccountCheckProvider())
        report, _ = planning.run_plan([FIXTURES / "mixed" / "Pulumi.good.yaml"])
        assert [s.status for s in report.stacks] == ["passed"], report.stacks[0].error
    finally:
        pickle._Pickler._batch_setitems = original  # type: ignore[attr-defined]


def test_render_errors_are_reported_per_stack() -> None:
    def crashing_program() -> None:
        raise RuntimeError("program crashed")

    report, _ = planning.run_plan([FIXTURES / "mixed" / "Pulumi.good.yaml"], program=crashing_program)
    (entry,) = report.stacks
    assert entry.status == "error" and entry.error_kind == "render-error"
    assert "program crashed" in (entry.error or "")
    assert report.exit_code == 1


def test_a_crashing_policy_is_reported_for_its_stack() -> None:
    def boom(args: Any, report: Any) -> None:
        raise ZeroDivisionError("policy bug")

    analyzer = PackAnalyzer(policies=[ResourceValidationPolicy("btp-tenant-boom", "crashes", validate=boom)])
    entry = planning.plan_stack(
        "good", FIXTURES / "mixed" / "Pulumi.good.yaml", analyzer, program=tenant_program
    )
    assert entry.status == "error" and entry.error_kind == "policy-error"
    assert entry.error == "ZeroDivisionError: policy bug"
    assert entry.resources, "the rendered resources are still reported"


# ------------------------------------------------------------------------------------------------------------
# Usage errors (exit 2)
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--stack", "nope"], "unknown stack 'nope'"),
        (["--stack", "example", "--all"], "either --stack or --all"),
        (
            ["--policy-config", str(FIXTURES / "bad-config.json")],
            "unknown policies: btp-tenant-no-such-policy",
        ),
        (["--policy-config", str(FIXTURES / "not-json.json")], "not valid JSON"),
        (["--policy-config", str(FIXTURES / "missing.json")], "cannot read policy config"),
        (["--stacks-dir", str(FIXTURES / "missing")], "no stack files"),
    ],
)
def test_usage_errors_exit_2(args: list[str], needle: str) -> None:
    defaults = [] if "--stacks-dir" in args else ["--stacks-dir", str(EXAMPLES)]
    code, output = run_cli(*defaults, *args)
    assert code == 2
    assert needle in output


def test_stack_by_name_and_by_file() -> None:
    code, data = run_json("--stacks-dir", str(EXAMPLES), "--stack", "example")
    assert code == 0 and [s["stack"] for s in data["stacks"]] == ["example"]
    code, data = run_json("--stack", str(FIXTURES / "mixed" / "Pulumi.good.yaml"))
    assert code == 0 and [s["stack"] for s in data["stacks"]] == ["good"]


# ------------------------------------------------------------------------------------------------------------
# JSON schema stability
# ------------------------------------------------------------------------------------------------------------

TOP_KEYS = ["schemaVersion", "tool", "policyPack", "stacks", "summary"]
STACK_KEYS = ["stack", "file", "status", "error", "resources", "violations"]
RESOURCE_KEYS = ["urn", "type", "name", "protect", "properties"]
VIOLATION_KEYS = ["policy", "enforcementLevel", "severity", "source", "message", "resource"]
POLICY_KEYS = ["name", "type", "enforcementLevel", "severity", "description"]
SUMMARY_KEYS = [
    "stacks",
    "passed",
    "advisory",
    "failed",
    "invalidConfig",
    "errors",
    "mandatoryViolations",
    "advisoryViolations",
    "exitCode",
]


def test_json_schema_is_stable_and_documented() -> None:
    _, data = run_json("--stacks-dir", str(FIXTURES / "duplicates"))
    _, mixed = run_json("--stacks-dir", str(FIXTURES / "mixed"))
    assert list(data) == TOP_KEYS
    assert data["schemaVersion"] == planning.SCHEMA_VERSION == 1
    assert list(data["tool"]) == ["name", "version"]
    assert list(data["policyPack"]) == ["name", "version", "policies"]
    assert all(list(p) == POLICY_KEYS for p in data["policyPack"]["policies"])
    assert list(data["summary"]) == SUMMARY_KEYS
    for entry in [*data["stacks"], *mixed["stacks"]]:
        assert list(entry) == STACK_KEYS
        assert entry["status"] in ("passed", "advisory", "failed", "invalid-config", "error")
        assert entry["error"] is None or list(entry["error"]) == ["kind", "message"]
        assert all(list(r) == RESOURCE_KEYS for r in entry["resources"])
        for v in entry["violations"]:
            assert list(v) == VIOLATION_KEYS
            assert v["enforcementLevel"] in ("mandatory", "advisory")
            assert v["source"] in ("resource", "stack", "fleet")
            assert v["resource"] is None or list(v["resource"]) == ["urn", "type", "name"]
    doc = DOC.read_text()
    for key in {*TOP_KEYS, *STACK_KEYS, *RESOURCE_KEYS, *VIOLATION_KEYS, *POLICY_KEYS, *SUMMARY_KEYS}:
        assert f"`{key}`" in doc, f"docs/plan-json.md does not document {key}"


def test_json_is_deterministic() -> None:
    args = ("--stacks-dir", str(EXAMPLES))
    assert run_cli("--json", *args) == run_cli("--json", *args)


# ------------------------------------------------------------------------------------------------------------
# Secrets never appear in the output
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True])
def test_no_secret_in_plan_output(as_json: bool) -> None:
    flags = ["--json"] if as_json else []
    _, leaky = run_cli(*flags, "--stacks-dir", str(FIXTURES / "mixed"))
    assert "btp-infra:cisServiceKey" in leaky  # the problem is reported...
    for value in LEAKY_VALUES:
        assert value not in leaky  # ...without the key's values
    code, kube = run_cli(*flags, "--stacks-dir", str(FIXTURES / "secrets"))
    assert code == 1  # a kubeconfig's content in plain text is refused, like a plain cis key...
    assert "btp-infra:kubeconfig" in kube
    assert KUBE_TOKEN not in kube
    assert "[secret]" in kube  # ...and shown redacted


def test_scrubber_redacts_secret_config_values_and_their_json_leaves() -> None:
    scrub = planning.Scrubber()
    scrub.add_stack_file(FIXTURES / "mixed" / "Pulumi.leaky.yaml")
    text = scrub("clientsecret=PLAINTEXT-CIS-SECRET-7d1f0c9e id=sb-cis-leaky-clientid ok=visible")
    assert text == "clientsecret=[secret] id=[secret] ok=visible"


# ------------------------------------------------------------------------------------------------------------
# The fleet rule: per cluster, configurable like every policy
# ------------------------------------------------------------------------------------------------------------


def _policy_file(tmp_path: Path, config: object) -> str:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("config", "code", "levels"),
    [
        ({"btp-tenant-fleet-unique": "advisory"}, 0, {"advisory"}),
        ({"btp-tenant-fleet-unique": {"enforcementLevel": "disabled"}}, 0, set()),
        ({"all": "advisory", "btp-tenant-fleet-unique": "mandatory"}, 1, {"mandatory"}),
    ],
)
def test_fleet_rule_takes_its_level_from_the_policy_config(
    tmp_path: Path, config: object, code: int, levels: set[str]
) -> None:
    args = ("--stacks-dir", str(FIXTURES / "duplicates"), "--policy-config", _policy_file(tmp_path, config))
    got, data = run_json(*args)
    fleet = [v for v in stack(data, "beta")["violations"] if v["policy"] == planning.FLEET_POLICY]
    assert got == code and {v["enforcementLevel"] for v in fleet} == levels


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"btp-tenant-fleet-unique": "loud"}, "policy config 'btp-tenant-fleet-unique' must be one of"),
        (
            {"btp-tenant-fleet-unique": {"clusters": 2}},
            "'btp-tenant-fleet-unique' has no property 'clusters'",
        ),
        ({"btp-tenant-fleet-unique": 3}, "must be an enforcement level or an object"),
    ],
)
def test_fleet_rule_config_is_validated(tmp_path: Path, config: object, needle: str) -> None:
    code, output = run_cli(
        "--stacks-dir", str(FIXTURES / "duplicates"), "--policy-config", _policy_file(tmp_path, config)
    )
    assert code == 2 and needle in output


def test_one_namespace_on_two_clusters_passes_the_fleet_check(tmp_path: Path) -> None:
    for name, context, guid in [
        ("orders-dev", "dev", "553bcbbb-e809-450f-82db-60de3ef76b1f"),
        ("orders-prod", "prod", "0b6f1a52-3c4d-4e8f-9a7b-2c1d5e6f7a8b"),
    ]:
        (tmp_path / f"Pulumi.{name}.yaml").write_text(
            "config:\n  btp-infra:namespace: orders\n"
            f"  btp-infra:subaccountId: {guid}\n  btp-infra:kubeContext: {context}\n",
            encoding="utf-8",
        )
    code, data = run_json("--stacks-dir", str(tmp_path))
    assert code == 0, data
    assert not [v for s in data["stacks"] for v in s["violations"] if v["policy"] == planning.FLEET_POLICY]


# ------------------------------------------------------------------------------------------------------------
# x509 validity
# ------------------------------------------------------------------------------------------------------------


def _x509_stack(directory: Path, name: str, x509: str | None) -> Path:
    path = directory / f"Pulumi.{name}.yaml"
    extra = f"  btp-infra:x509: {x509}\n" if x509 else ""
    path.write_text(
        "config:\n  btp-infra:namespace: certs\n"
        "  btp-infra:subaccountId: 553bcbbb-e809-450f-82db-60de3ef76b1f\n"
        f"  btp-infra:credentialType: x509\n  btp-infra:kubeContext: prod\n{extra}",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("x509", "parameters", "warned"),
    [
        (None, {}, False),
        (
            "{validity: 30d, keyLength: 4096}",
            {"x509": {"key-length": 4096, "validity": 30, "validity-type": "DAYS"}},
            False,
        ),
        ("{validity: 3d}", {"x509": {"key-length": 2048, "validity": 3, "validity-type": "DAYS"}}, True),
    ],
)
def test_x509_settings_reach_the_binding_and_short_validity_is_advisory(
    tmp_path: Path, x509: str | None, parameters: dict[str, Any], warned: bool
) -> None:
    code, data = run_json("--stack", str(_x509_stack(tmp_path, "certs", x509)))
    assert code == 0, data
    (entry,) = data["stacks"]
    path = tmp_path / "Pulumi.certs.yaml"
    result = render("certs", engine_config(path), tenant_program)
    (binding,) = result.of_type("pulumi-python:dynamic/btp:ServiceBinding")
    assert binding.inputs["parameters"] == parameters
    found = [v for v in entry["violations"] if v["policy"] == "btp-tenant-x509-validity"]
    assert [v["enforcementLevel"] for v in found] == (["advisory"] if warned else [])
    if warned:
        assert "valid for 3 day(s), less than 7" in found[0]["message"]


def test_x509_minimum_validity_is_configurable(tmp_path: Path) -> None:
    stack_file = str(_x509_stack(tmp_path, "certs", "{validity: 10d}"))
    config = _policy_file(
        tmp_path, {"btp-tenant-x509-validity": {"enforcementLevel": "mandatory", "minValidityDays": 14}}
    )
    code, data = run_json("--stack", stack_file, "--policy-config", config)
    assert code == 1 and policies_of(data["stacks"][0], "mandatory") == {"btp-tenant-x509-validity"}
    bad = _policy_file(tmp_path, {"btp-tenant-x509-validity": {"minValidityDays": 0}})
    code, output = run_cli("--stack", stack_file, "--policy-config", bad)
    assert code == 2 and "minValidityDays must be at least 1" in output


# ------------------------------------------------------------------------------------------------------------
# Parallel planning
# ------------------------------------------------------------------------------------------------------------

GUIDS = [f"{i:08x}-1111-4222-8333-{i:012x}" for i in range(1, 40)]


def _tenant_stacks(directory: Path, count: int) -> list[Path]:
    """``count`` valid, varied stacks (guardrails on every 2nd, x509 in the management namespace on every
    3rd)."""
    paths = []
    for i in range(count):
        extra = "  btp-infra:quota: {pods: '20'}\n  btp-infra:networkPolicy: default-deny\n" if i % 2 else ""
        if i % 3 == 0:
            extra += "  btp-infra:credentialType: x509\n  btp-infra:secretPlacement: management\n"
        path = directory / f"Pulumi.t{i:02d}.yaml"
        path.write_text(
            f"config:\n  btp-infra:namespace: t{i:02d}\n  btp-infra:subaccountId: {GUIDS[i]}\n"
            f"  btp-infra:kubeContext: kyma\n{extra}",
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def _outputs(paths: list[Path], **kwargs: Any) -> tuple[str, str]:
    report, scrub = planning.run_plan(paths, **kwargs)
    return planning.format_json(report, scrub), planning.format_text(report, scrub)


def test_parallel_plan_is_the_sequential_plan_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 stacks — valid ones, invalid configs, a fleet conflict, a leaky key — give the same JSON and text
    whether planned in this process or in worker processes, in the order given."""
    fixtures = [
        *sorted((FIXTURES / "mixed").glob("Pulumi.*.yaml")),
        *sorted((FIXTURES / "duplicates").glob("Pulumi.*.yaml")),
        FIXTURES / "secrets" / "Pulumi.kube.yaml",
    ]
    generated = _tenant_stacks(tmp_path, 14)
    paths = [*generated[:7], *fixtures, *generated[7:]]
    assert len(paths) == 20
    monkeypatch.setattr(planning, "_worker_count", lambda stacks: 1)
    sequential = _outputs(paths)
    monkeypatch.setattr(planning, "_worker_count", lambda stacks: min(3, stacks))
    parallel = _outputs(paths)
    assert parallel == sequential
    assert [s["file"] for s in json.loads(parallel[0])["stacks"]] == [str(p) for p in paths]


def test_a_dying_worker_fails_only_its_own_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process that dies (here: ``os._exit`` while rendering) breaks the pool; the stacks
    it took with it are planned again, and only the stacks that kill their worker (``t02``, ``beta``) are
    errors — still part of the fleet check."""
    parent = os.getpid()
    paths = [*_tenant_stacks(tmp_path, 6), FIXTURES / "duplicates" / "Pulumi.alpha.yaml"]
    paths.append(FIXTURES / "duplicates" / "Pulumi.beta.yaml")

    def dying_program() -> None:
        if pulumi.get_stack() in ("t02", "beta") and os.getpid() != parent:
            os._exit(3)
        tenant_program()

    monkeypatch.setattr(planning, "_worker_count", lambda stacks: min(2, stacks))
    report, _ = planning.run_plan(paths, program=dying_program)
    by_stack = {s.stack: s for s in report.stacks}
    assert [s.stack for s in report.stacks] == ["t00", "t01", "t02", "t03", "t04", "t05", "alpha", "beta"]
    for name in ("t02", "beta"):
        assert by_stack[name].error_kind == "render-error", by_stack[name]
        assert (by_stack[name].error or "").startswith("BrokenProcessPool"), by_stack[name].error
    assert {by_stack[n].status for n in ("t00", "t01", "t03", "t04", "t05")} <= {"passed", "advisory"}
    assert by_stack["alpha"].resources and by_stack["alpha"].error_kind is None
    fleet = [v for v in by_stack["beta"].violations if v.policy == planning.FLEET_POLICY]
    assert fleet and "Pulumi.alpha.yaml" in fleet[0].message  # beta's config still met alpha's


def test_a_workers_error_is_scrubbed_of_the_stacks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "hunter2-PLAINTEXT-5f3e9c"
    paths = _tenant_stacks(tmp_path, 3)
    with paths[1].open("a", encoding="utf-8") as stack_file:
        stack_file.write(f"  kubernetes:password: {secret}\n")

    def quoting_program() -> None:
        password = pulumi.Config("kubernetes").get("password")
        if password:
            raise RuntimeError(f"cannot log in with {password}")
        tenant_program()

    monkeypatch.setattr(planning, "_worker_count", lambda stacks: min(2, stacks))
    json_text, text = _outputs(paths, program=quoting_program)
    entry = stack(json.loads(json_text), "t01")
    assert entry["status"] == "error"
    assert entry["error"]["message"] == "RuntimeError: cannot log in with [secret]"
    assert secret not in json_text and secret not in text
