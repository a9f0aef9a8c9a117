"""`btp-infra verify --json` reports in the PR comment and the drift issues (`--verify`): a failing or warning
tenant opens its drift issue even when the preview is clean, the checks show with their fixes, redacted."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from btp_infra.cli import main
from btp_infra.operations.verify import Check, StackReport, VerifyReport

from .test_comment import fleet_doc, write

LEAK = "Zq8rT2vLp9XwK4mN7bC1AbCdEfGhIjKlMnOp"  # a secret-looking value a server echoed into a reason


def report(tmp_path: Path) -> Path:
    doc = VerifyReport(
        [
            StackReport(
                "orders",
                "orders",
                None,
                [
                    Check("namespace", "pass", "namespace orders exists with its labels"),
                    Check(
                        "credentials.expiry",
                        "warn",
                        "the x509 certificate expires in 12 days (window 30 days)",
                        "btp-infra rotate --stack orders",
                    ),
                ],
            ),
            StackReport(
                "hr",
                "hr",
                None,
                [
                    Check(
                        "secret",
                        "fail",
                        f"Secret hr/sap-btp-service-operator is missing ({LEAK})",
                        "btp-infra up",
                    )
                ],
            ),
            StackReport("billing", "billing", None, [Check("namespace", "pass", "ok")]),
        ]
    ).as_dict()
    return write(tmp_path / "verify.json", doc)


def clean_previews(tmp_path: Path) -> Path:
    nothing = {"create": 0, "update": 0, "replace": 0, "delete": 0, "same": 3}
    return write(
        tmp_path / "drift.json",
        fleet_doc(
            ("orders", "succeeded", nothing), ("hr", "succeeded", nothing), ("billing", "succeeded", nothing)
        ),
    )


def test_drift_issues_open_for_verify_failures_and_warnings(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "ci",
            "drift-issue",
            "--preview",
            str(clean_previews(tmp_path)),
            "--verify",
            str(report(tmp_path)),
            "--stacks-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    plans = {p["stack"]: p for p in json.loads(result.output)}
    assert {s: p["state"] for s, p in plans.items()} == {"orders": "drift", "hr": "drift", "billing": "clean"}
    assert "`btp-infra verify` reports problems in tenant `orders`" in plans["orders"]["body"]
    assert "btp-infra rotate --stack orders" in plans["orders"]["body"]  # the x509 window, with its fix
    assert "Secret hr/sap-btp-service-operator is missing" in plans["hr"]["body"]
    assert LEAK not in result.output


def test_the_comment_shows_verify_sections_and_counts_failures(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["ci", "comment", "--verify", str(report(tmp_path)), "--stacks-dir", str(tmp_path), "--no-summary"],
    )
    assert result.exit_code == 0, result.output
    assert "3 tenant(s), 0 with changes, 1 failing" in result.output
    assert result.output.index("`hr`") < result.output.index("verify: 1 failed")
    assert "credentials.expiry" in result.output and LEAK not in result.output


def test_a_document_that_is_no_verify_report_is_a_usage_error(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", {"version": 9, "stacks": []})
    result = CliRunner().invoke(main, ["ci", "comment", "--verify", str(bad)])
    assert result.exit_code == 2 and "bad.json" in result.output and "version" in result.output
