"""``btp-infra ci comment``: aggregation, flagging, trimming at GitHub's limit, redaction, update in place."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from btp_infra.ci.comment import MARKER, build
from btp_infra.ci.report import GITHUB_LIMIT, Redaction, aggregate, fence
from btp_infra.cli import main

from .fake_github import State

SECRET = "Zq8rT2vLp9XwK4mN7bC1"  # a stack's secret config value
PROJECT = "btp-infra"


def plan_doc(*entries: tuple[str, str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "stacks": [
            {
                "stack": s,
                "file": f"stacks/Pulumi.{s}.yaml",
                "status": status,
                "error": None,
                "resources": [],
                "violations": violations,
            }
            for s, status, violations in entries
        ],
    }


def violation(level: str, message: str) -> dict[str, Any]:
    return {
        "policy": "btp-tenant-resource-quota",
        "enforcementLevel": level,
        "severity": "medium",
        "source": "stack",
        "message": message,
        "resource": None,
    }


def fleet_doc(
    *stacks: tuple[str, str, dict[str, int]], operation: str = "preview", error: str | None = None
) -> dict[str, Any]:
    return {
        "version": 1,
        "operation": operation,
        "exitCode": 0,
        "error": None,
        "backend": None,
        "pulumiVersion": "3.190.0",
        "stacks": [
            {"stack": s, "result": r, "changes": c, "durationSeconds": 1.0, "error": error}
            for s, r, c in stacks
        ],
        "totals": {},
    }


def urn(stack: str, typ: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::btp-infra:index:Tenant${typ}::{name}"


def raw_preview(stack: str, *steps: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "steps": [
            {"op": op, "urn": urn(stack, typ, name), "newState": {"type": typ}} for op, typ, name in steps
        ],
        "changeSummary": {},
        "diagnostics": [],
    }


def write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_aggregates_plan_fleet_and_raw_preview(tmp_path: Path) -> None:
    plan = plan_doc(
        ("orders", "advisory", [violation("advisory", "no quota")]),
        ("billing", "failed", [violation("mandatory", "labels missing")]),
        ("hr", "passed", []),
    )
    fleet = fleet_doc(
        ("orders", "succeeded", {"create": 2, "update": 1, "replace": 0, "delete": 0, "same": 4})
    )
    raw = raw_preview(
        "billing",
        ("create", "kubernetes:core/v1:ConfigMap", "cm"),
        ("replace", "kubernetes:core/v1:Secret", "sap-btp-service-operator"),
        ("create-replacement", "kubernetes:core/v1:Secret", "sap-btp-service-operator"),
        ("delete", "kubernetes:core/v1:Namespace", "billing-namespace"),
        ("same", "pulumi:pulumi:Stack", "btp-infra-billing"),
    )
    tenants, flags = aggregate(
        plan, [(tmp_path / "a.json", fleet), (tmp_path / "b.json", raw)], offboard=["gone"]
    )
    assert [t.stack for t in tenants] == ["billing", "gone", "hr", "orders"]
    billing = tenants[0]
    assert billing.changes == {"create": 1, "update": 0, "replace": 1, "delete": 1}
    assert (billing.policy, billing.mandatory, billing.previewed) == ("failed", 1, "succeeded")
    assert [(f.stack, f.op, f.name) for f in flags] == [
        ("billing", "delete", "billing-namespace"),
        ("billing", "replace", "sap-btp-service-operator"),
        ("gone", "destroy", "gone"),
    ]
    body = build(tenants, flags, Redaction(environ={})).body
    assert body.startswith(MARKER + "\n## btp-infra preview\n")
    # Flags come before the table.
    assert body.index("REPLACE** of Secret `sap-btp-service-operator` in tenant `billing`") < body.index(
        "| tenant |"
    )
    assert "`gone` is offboarded" in body
    assert "| `orders` | 2 | 1 | 0 | 0 | ✅ succeeded | ⚠️ advisory (1 advisory) |" in body
    assert "| `hr` | — | — | — | — | not run | ✅ passed |" in body
    assert "| `billing` | 1 | 0 | **1** | **1** | ✅ succeeded | ❌ failed (1 mandatory) |" in body
    assert "labels missing" in body


def test_nothing_affected() -> None:
    body = build([], [], Redaction(environ={})).body
    assert "No tenant stack is affected" in body and "| tenant |" not in body


def _tenant_table_ok(body: str) -> None:
    assert len(body) <= GITHUB_LIMIT
    # Every table line is a whole row; fences are balanced.
    for line in body.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line
    fences = [line for line in body.splitlines() if re.fullmatch(r"`{3,}", line)]
    assert len(fences) % 2 == 0


def test_trimmed_under_the_limit_whole_blocks(tmp_path: Path) -> None:
    long_message = "x" * 5000
    plan = plan_doc(
        *((f"tenant-{i:04d}", "advisory", [violation("advisory", long_message)]) for i in range(400))
    )
    tenants, flags = aggregate(plan, [])
    built = build(tenants, flags, Redaction(environ={}))
    assert len(built.full) > GITHUB_LIMIT
    _tenant_table_ok(built.body)
    assert built.omitted.get("details", 0) > 0
    assert "✂️ Trimmed to fit GitHub's 65,536-character limit" in built.body
    assert f"{built.omitted['details']} finding sections not shown" in built.body
    # Every tenant row still fits here; the findings are what was cut.
    assert built.body.count("| `tenant-") == 400


def test_trimmed_rows_with_many_tenants() -> None:
    plan = plan_doc(*((f"t{'n' * 150}{i:05d}", "passed", []) for i in range(2000)))
    tenants, flags = aggregate(plan, [])
    built = build(tenants, flags, Redaction(environ={}))
    _tenant_table_ok(built.body)
    assert built.omitted["row"] > 0 and "tenant rows not shown" in built.body


def test_small_limit_keeps_flags_first() -> None:
    tenants, flags = aggregate(None, [], offboard=[f"t{i}" for i in range(50)])
    built = build(tenants, flags, Redaction(environ={}), limit=3000)
    assert len(built.body) <= 3000 and "is offboarded" in built.body and "24 flagged steps" in built.body


def test_fence_cannot_be_closed_by_content() -> None:
    assert fence("a ``` b").startswith("````\n")


def test_redaction(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.orders.yaml").write_text(f"config:\n  btp-infra:adminPassword: {SECRET}\n")
    env = {"PULUMI_CONFIG_PASSPHRASE": "correct-horse-battery", "HOME": "/home/runner"}
    redact = Redaction(sorted(stacks.glob("Pulumi.*.yaml")), environ=env)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    text = (
        f"failed: value {SECRET} and part {SECRET[2:14]}; passphrase correct-horse-battery; bearer {jwt}; "
        '"clientsecret": "abc123def", password=hunter22 token: t0k3n; url https://u:p4ss@host/x; '
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789; "
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"
        " home /home/runner"
    )
    out = redact(text)
    for leaked in (
        SECRET,
        SECRET[2:14],
        "correct-horse",
        "eyJhbGci",
        "abc123def",
        "hunter22",
        "t0k3n",
        "p4ss",
        "ghp_abc",
        "MIIE",
    ):
        assert leaked not in out, (leaked, out)
    assert "/home/runner" in out and "[secret]" in out
    # Not secret: a URN, a commit SHA, plain words.
    assert redact(urn("orders", "kubernetes:core/v1:Secret", "x")) == urn(
        "orders", "kubernetes:core/v1:Secret", "x"
    )
    assert (
        redact("commit 0123456789abcdef0123456789abcdef01234567")
        == "commit 0123456789abcdef0123456789abcdef01234567"
    )


def test_cli_redacts_and_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.orders.yaml").write_text(f"config:\n  btp-infra:adminPassword: {SECRET}\n")
    plan = write(
        tmp_path / "plan.json", plan_doc(("orders", "failed", [violation("mandatory", f"leaked {SECRET}")]))
    )
    previews = tmp_path / "previews"
    previews.mkdir()
    write(
        previews / "orders.json",
        fleet_doc(
            ("orders", "failed", {"create": 1, "update": 0, "replace": 0, "delete": 0}),
            error=f"boom {SECRET}",
        ),
    )
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for k, v in {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "7",
    }.items():
        monkeypatch.setenv(k, v)
    out, full = tmp_path / "comment.md", tmp_path / "full.md"
    result = CliRunner().invoke(
        main,
        [
            "ci",
            "comment",
            "--plan",
            str(plan),
            "--preview",
            str(previews),
            "--stacks-dir",
            str(stacks),
            "--out",
            str(out),
            "--full-out",
            str(full),
        ],
    )
    assert result.exit_code == 0, result.output
    for text in (out.read_text(), full.read_text(), summary.read_text()):
        assert SECRET not in text and "[secret]" in text and "❌ failed" in text
    assert "[job summary and artifacts](https://github.com/o/r/actions/runs/7)" in out.read_text()


def test_cli_usage_errors(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["ci", "comment"]).exit_code == 2
    bad = write(tmp_path / "x.json", {"hello": 1})
    result = CliRunner().invoke(main, ["ci", "comment", "--preview", str(bad)])
    assert result.exit_code == 2 and "neither" in result.output
    plan = write(tmp_path / "plan.json", plan_doc())
    assert CliRunner().invoke(main, ["ci", "comment", "--plan", str(plan), "--post"]).exit_code == 2


def post(tmp_path: Path, plan: dict[str, Any]) -> Any:
    path = write(tmp_path / "plan.json", plan)
    return CliRunner().invoke(
        main,
        [
            "ci",
            "comment",
            "--plan",
            str(path),
            "--post",
            "--repo",
            "o/r",
            "--pr",
            "5",
            "--stacks-dir",
            str(tmp_path / "none"),
        ],
    )


def test_post_creates_then_updates_in_place_with_paging(tmp_path: Path, github: State) -> None:
    for i in range(5):  # other people's comments: the fake pages by 2, so the marker is on page 3+
        github.add_comment(5, f"comment {i}")
    result = post(tmp_path, plan_doc(("orders", "passed", [])))
    assert result.exit_code == 0, result.output
    ours = [c for c in github.comments[5] if MARKER in c["body"]]
    assert len(ours) == 1 and "✅ passed" in ours[0]["body"]
    github.add_comment(5, "a later comment")
    result = post(tmp_path, plan_doc(("orders", "failed", [violation("mandatory", "no labels")])))
    assert result.exit_code == 0, result.output
    ours = [c for c in github.comments[5] if MARKER in c["body"]]
    assert len(ours) == 1 and "❌ failed" in ours[0]["body"]
    assert f"updated comment {ours[0]['id']}" in result.output
    gets = [path for method, path in github.calls if method == "GET"]
    assert any("page=3" in p for p in gets)
    assert [m for m, _ in github.calls].count("POST") == 1 and [m for m, _ in github.calls].count(
        "PATCH"
    ) == 1


def test_post_without_token_fails(tmp_path: Path, github: State, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    result = post(tmp_path, plan_doc())
    assert result.exit_code == 1 and "GITHUB_TOKEN" in result.output


def test_post_bad_token_is_exit_1(tmp_path: Path, github: State, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "wrong-token-value")
    result = post(tmp_path, plan_doc())
    assert result.exit_code == 1 and "HTTP 401" in result.output


def test_cli_raw_preview_directory_flags_secret_replace(tmp_path: Path) -> None:
    previews = tmp_path / "previews"
    (previews / "orders").mkdir(parents=True)
    write(
        previews / "orders" / "preview-orders.json",
        raw_preview("orders", ("replace", "kubernetes:core/v1:Secret", "sap-btp-service-operator")),
    )
    write(previews / "preview-newtenant.json", {"steps": [], "diagnostics": []})  # named by its file
    result = CliRunner().invoke(
        main, ["ci", "comment", "--preview", str(previews), "--stacks-dir", str(tmp_path), "--no-summary"]
    )
    assert result.exit_code == 0, result.output
    assert "🚨 **REPLACE** of Secret `sap-btp-service-operator` in tenant `orders`" in result.output
    assert "| `newtenant` | 0 | 0 | 0 | 0 | ✅ succeeded |" in result.output


def test_fleet_run_that_did_not_start_is_a_failed_tenant(tmp_path: Path) -> None:
    doc = fleet_doc() | {"exitCode": 2, "error": "the Pulumi CLI was not found"}
    tenants, _ = aggregate(None, [(tmp_path / "preview-orders.json", doc)])
    assert [(t.stack, t.previewed, t.errors) for t in tenants] == [
        ("orders", "failed", ["preview did not start: the Pulumi CLI was not found"])
    ]


def test_a_failed_raw_preview_shows_its_exit_status_and_log_tail(tmp_path: Path) -> None:
    """preview.yml records `pulumi preview`'s exit status and stderr next to its JSON; a mandatory policy
    violation is only visible there (the JSON has no policy events)."""
    write(
        tmp_path / "orders.json",
        raw_preview("orders", ("create", "kubernetes:core/v1:Namespace", "orders-namespace")),
    )
    (tmp_path / "orders.exitcode").write_text("255\n")
    (tmp_path / "orders.log").write_text(
        "\n".join(f"noise {i}" for i in range(40)) + f"\nmandatory: btp-tenant-labels clientsecret={SECRET}\n"
    )
    (tmp_path / "hr.json").write_text("")  # the CLI failed before printing anything
    (tmp_path / "hr.exitcode").write_text("1")
    (tmp_path / "hr.log").write_text("error: no stack named 'hr' found\n")
    write(tmp_path / "billing.json", raw_preview("billing"))
    (tmp_path / "billing.exitcode").write_text("0")
    result = CliRunner().invoke(
        main, ["ci", "comment", "--preview", str(tmp_path), "--stacks-dir", str(tmp_path), "--no-summary"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "| `orders` | 1 | 0 | 0 | 0 | ❌ failed |" in out
    assert "| `hr` | 0 | 0 | 0 | 0 | ❌ failed |" in out
    assert "| `billing` | 0 | 0 | 0 | 0 | ✅ succeeded |" in out
    assert "pulumi preview exited 255" in out and "no stack named 'hr' found" in out
    assert "mandatory: btp-tenant-labels" in out and "noise 39" in out
    assert "noise 5\n" not in out  # only the tail
    assert SECRET not in out


def test_raw_preview_steps_name_the_changed_properties_never_values(tmp_path: Path) -> None:
    doc = raw_preview("orders")
    doc["steps"] = [
        {
            "op": "update",
            "urn": urn("orders", "kubernetes:core/v1:Secret", "tenant-secret"),
            "newState": {
                "type": "kubernetes:core/v1:Secret",
                "inputs": {"stringData": {"clientsecret": SECRET}},
            },
            "diffReasons": ["stringData"],
        },
        {
            "op": "replace",
            "urn": urn("orders", "pulumi-python:dynamic/btp:ServiceBinding", "tenant-binding"),
            "newState": {"type": "pulumi-python:dynamic/btp:ServiceBinding"},
            "replaceReasons": ["name"],
            "diffReasons": ["name", "labels"],
        },
        {"op": "same", "urn": urn("orders", "kubernetes:core/v1:Namespace", "tenant-namespace")},
    ]
    tenants, flags = aggregate(None, [(tmp_path / "orders.json", doc)])
    assert tenants[0].steps == [
        "update kubernetes:core/v1:Secret tenant-secret (stringData)",
        "replace pulumi-python:dynamic/btp:ServiceBinding tenant-binding (labels, name)",
    ]
    assert [(f.op, f.what) for f in flags] == [("replace", "credentials (service binding)")]
    full = build(tenants, flags, Redaction(environ={})).full
    assert "2 change(s)" in full and "update kubernetes:core/v1:Secret tenant-secret (stringData)" in full
    assert SECRET not in full


def test_the_readme_example_is_the_builders_output() -> None:
    """README "What a reviewer sees on a PR" shows what `btp-infra ci comment` writes for the fixture: an
    offboarding (destroy preview), a replaced Secret and binding, an advisory finding."""
    root = Path(__file__).resolve().parents[2]
    fixture = root / "tests" / "fixtures" / "ci-example"
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = readme.split("````markdown\n", 1)[1].split("\n````\n", 1)[0] + "\n"
    result = CliRunner().invoke(
        main,
        [
            "ci",
            "comment",
            "--plan",
            str(fixture / "plan.json"),
            "--preview",
            str(fixture / "preview"),
            "--offboard",
            '["legacy"]',
            "--details-url",
            "https://github.com/acme/tenants/actions/runs/123",
            "--stacks-dir",
            str(fixture),
            "--no-summary",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output == shown
