"""``validate``: every stack file and the cross-stack rules, offline, each finding at the line of its key, as
text, JSON and GitHub workflow commands."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from btp_infra.config import ConfigError, ConfigIssue
from btp_infra.tenants import (
    FORMATS,
    Finding,
    StackResult,
    ValidationReport,
    escape_data,
    escape_property,
    format_github,
    format_json,
    format_report,
    format_text,
    locate,
    validate,
)


def guid(index: int) -> str:
    return str(uuid.UUID(int=index + 1, version=4))


def stack(namespace: str, index: int, context: str = "kyma", extra: str = "") -> str:
    return (
        "config:\n"
        f"  btp-infra:namespace: {namespace}\n"
        f"  btp-infra:subaccountId: {guid(index)}\n"
        f"  btp-infra:kubeContext: {context}\n" + extra
    )


BROKEN = """\
# a comment
config:
  btp-infra:namespace: Orders
  btp-infra:subaccountId: 553bcbbb-e809-450f-82db-60de3ef76b1f
  btp-infra:entitlements:
    - service: destination
      plan: lite
    - service: destination
      plan: lite
      amount: 2
  btp-infra:labels:
    a.b/c: "x y"
  btp-infra:quota:
    pods: lots
  kubernetes:context: other
"""


def by_key(report: ValidationReport) -> dict[str, Finding]:
    return {finding.issue.key: finding for finding in report.findings}


# ---- the report ---------------------------------------------------------------------------------


def test_an_empty_directory_is_valid(stacks: Path) -> None:
    report = validate(stacks)
    assert report.ok and report.exit_code == 0 and report.stacks == ()
    assert format_text(report) == f"0 stack files in {stacks}: valid\n"
    assert format_github(report) == ""
    assert json.loads(format_json(report))["ok"] is True


def test_valid_stacks_are_valid(stacks: Path) -> None:
    for i in range(3):
        (stacks / f"Pulumi.t{i}.yaml").write_text(stack(f"t{i}", i))
    report = validate(stacks)
    assert report.ok and [s.stack for s in report.stacks] == ["t0", "t1", "t2"]
    assert all(s.ok and s.config is not None for s in report.stacks)
    assert format_text(report) == f"3 stack files in {stacks}: valid\n"


def test_each_finding_is_at_the_line_and_column_of_its_key(stacks: Path) -> None:
    path = stacks / "Pulumi.broken.yaml"
    path.write_text(BROKEN)
    report = validate(stacks)
    assert report.exit_code == 1
    found = {key: (f.line, f.column) for key, f in by_key(report).items()}
    assert found == {
        "namespace": (3, 3),
        "entitlements[1].amount": (10, 7),  # the amount is not allowed for destination/lite
        'labels["a.b/c"]': (12, 5),
        "quota.pods": (14, 5),
        "kubernetes:context": (15, 3),
        "kubeContext": (2, 1),  # missing: at config:
    }
    assert all(f.file == str(path) and f.scope == "stack" for f in report.findings)
    assert [f.line for f in report.findings] == sorted(f.line or 0 for f in report.findings)


def test_unknown_keys_and_namespaces_are_found_too(stacks: Path) -> None:
    (stacks / "Pulumi.typo.yaml").write_text(
        stack(
            "typo",
            0,
            extra="  btp-infra:namepsace: x\n  btp-infr:region: eu10\n"
            "  btp-infra:timeouts:\n    instanse: 1h\n",
        )
    )
    found = {key: f.line for key, f in by_key(validate(stacks)).items()}
    assert found == {"namepsace": 5, "btp-infr:region": 6, "timeouts.instanse": 8}


def test_invalid_yaml_is_at_the_line_of_the_error(stacks: Path) -> None:
    (stacks / "Pulumi.bad.yaml").write_text("config:\n  btp-infra:namespace: a\n  btp-infra:labels: {a: b\n")
    (finding,) = validate(stacks).findings
    assert finding.key == "" and "invalid YAML" in finding.issue.message
    assert finding.line == 4


def test_a_file_level_problem_without_position_is_at_the_start(stacks: Path) -> None:
    (stacks / "Pulumi.empty.yaml").write_text("")
    (finding,) = validate(stacks).findings
    assert (finding.line, finding.column) == (1, 1)
    assert "is empty" in finding.issue.message


def test_cross_stack_rules_name_both_files_at_the_key(stacks: Path) -> None:
    (stacks / "Pulumi.a.yaml").write_text(stack("orders", 0))
    (stacks / "Pulumi.b.yaml").write_text("# b\n" + stack("orders", 0))
    (stacks / "Pulumi.c.yaml").write_text(stack("orders", 2, context="other"))  # another cluster: fine
    report = validate(stacks)
    assert [s.ok for s in report.stacks] == [True, False, True]
    namespace, subaccount = report.findings
    assert (namespace.issue.key, namespace.line, namespace.scope) == ("namespace", 3, "fleet")
    assert (subaccount.issue.key, subaccount.line, subaccount.scope) == ("subaccountId", 4, "fleet")
    assert f"is also mapped by {stacks / 'Pulumi.a.yaml'}" in namespace.issue.message
    assert namespace.file == str(stacks / "Pulumi.b.yaml")


def test_a_stack_with_two_files_is_reported(stacks: Path) -> None:
    (stacks / "Pulumi.dup.yaml").write_text(stack("dup", 0))
    (stacks / "Pulumi.dup.yml").write_text(stack("dup2", 1))
    (finding,) = validate(stacks).findings
    assert finding.file == str(stacks / "Pulumi.dup.yml")
    assert "second stack file of stack 'dup'" in finding.issue.message


def test_secrets_are_never_in_any_format(stacks: Path) -> None:
    key = '{"uaa": {"clientsecret": "TOPSECRET-1"}}'
    (stacks / "Pulumi.plain.yaml").write_text(
        stack("plain", 0, extra=f"  btp-infra:cisServiceKey: '{key}'\n")
    )
    report = validate(stacks)
    assert not report.ok
    for fmt in FORMATS:
        assert "TOPSECRET" not in format_report(report, fmt)
    (finding,) = report.findings
    assert finding.as_dict()["value"] == "[secret]" and finding.as_dict()["secret"] is True
    assert finding.line == 5


def test_a_project_directory_uses_its_stack_config_dir(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: btp-infra\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.x.yaml").write_text(stack("x", 0))
    assert [s.stack for s in validate(tmp_path).stacks] == ["x"]


def test_locate_places_keys(stacks: Path) -> None:
    path = stacks / "Pulumi.broken.yaml"
    path.write_text(BROKEN)
    assert locate(path, ["namespace", "entitlements[0].plan", "entitlements[9]", "nothing", ""]) == {
        "namespace": (3, 3),
        "entitlements[0].plan": (7, 7),
        "entitlements[9]": (5, 3),  # deepest found: the key
        "nothing": (2, 1),  # not in the file: config:
        "": (2, 1),
    }
    assert locate(stacks / "missing.yaml", ["namespace"]) == {"namespace": None}


# ---- formats ------------------------------------------------------------------------------------


def test_text_is_one_line_per_finding_then_a_summary(stacks: Path) -> None:
    (stacks / "Pulumi.broken.yaml").write_text(BROKEN)
    (stacks / "Pulumi.ok.yaml").write_text(stack("ok", 5))
    lines = format_text(validate(stacks)).splitlines()
    assert len(lines) == 7
    assert lines[1].startswith(f"{stacks / 'Pulumi.broken.yaml'}: btp-infra:namespace: 'Orders' — ")
    assert lines[-1] == f"2 stack files in {stacks}: 1 invalid, 6 problems"


def test_json_holds_every_finding_with_its_place(stacks: Path) -> None:
    (stacks / "Pulumi.broken.yaml").write_text(BROKEN)
    document = json.loads(format_report(validate(stacks), "json"))
    assert document["ok"] is False
    assert document["summary"] == {"directory": str(stacks), "stacks": 1, "invalid": 1, "problems": 6}
    assert document["stacks"] == [
        {"stack": "broken", "file": str(stacks / "Pulumi.broken.yaml"), "ok": False, "problems": 6}
    ]
    first = document["findings"][1]
    assert first == {
        "file": str(stacks / "Pulumi.broken.yaml"),
        "line": 3,
        "column": 3,
        "key": "btp-infra:namespace",
        "value": "Orders",
        "secret": False,
        "message": first["message"],
        "valid": first["valid"],
        "scope": "stack",
        "text": first["text"],
    }
    assert first["text"].startswith(f"{stacks / 'Pulumi.broken.yaml'}: btp-infra:namespace: 'Orders'")
    missing = next(f for f in document["findings"] if f["key"] == "btp-infra:kubeContext")
    assert missing["value"] is None


def test_github_lines_carry_file_line_col_and_title(stacks: Path) -> None:
    path = stacks / "Pulumi.broken.yaml"
    path.write_text(BROKEN)
    lines = format_github(validate(stacks)).splitlines()
    assert len(lines) == 6
    file = escape_property(str(path))
    assert lines[0].startswith(
        f"::error file={file},line=2,col=1,title=btp-infra%3AkubeContext::btp-infra:kubeContext: "
    )
    assert lines[1].startswith(
        f"::error file={file},line=3,col=3,title=btp-infra%3Anamespace::btp-infra:namespace: 'Orders' — "
    )
    assert all(line.startswith("::error file=") for line in lines)


def test_github_paths_relative_to_the_repository(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.x.yaml").write_text(stack("Bad", 0))
    (line,) = format_report(validate(stacks), "github", root=tmp_path).splitlines()
    assert line.startswith("::error file=stacks/Pulumi.x.yaml,line=2,col=3,title=btp-infra%3Anamespace::")
    (line,) = format_github(validate(stacks), root=tmp_path / "elsewhere").splitlines()
    assert line.startswith(f"::error file={escape_property(str(stacks / 'Pulumi.x.yaml'))},")


def test_github_escapes_properties_and_data(tmp_path: Path) -> None:
    stacks = tmp_path / "a,b:c%d"
    stacks.mkdir()
    (stacks / "Pulumi.x.yaml").write_text(stack("Bad", 0))
    (line,) = format_github(validate(stacks)).splitlines()
    assert (
        "file=" + str(tmp_path).replace(":", "%3A").replace(",", "%2C") + "/a%2Cb%3Ac%25d/Pulumi.x.yaml,"
        in line
    )


def test_github_escaping_rules() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext%3A a%2C b"
    assert escape_property("%3A") == "%253A"  # % first, so escapes are not escaped twice


def test_github_message_with_newlines_stays_one_line() -> None:
    issue = ConfigIssue("s/Pulumi.x.yaml", "region", "eu10", "line one\nline two: 50%", "a, b")
    finding = Finding(issue, "s/Pulumi.x.yaml", 7, 3, "stack")
    report = ValidationReport("s", (StackResult("x", "s/Pulumi.x.yaml", None, (finding,)),), (finding,))
    assert format_github(report) == (
        "::error file=s/Pulumi.x.yaml,line=7,col=3,title=btp-infra%3Aregion::"
        "btp-infra:region: 'eu10' — line one%0Aline two: 50%25; valid: a, b\n"
    )


def test_an_unknown_format_is_refused(stacks: Path) -> None:
    with pytest.raises(ValueError, match="valid: text, json, github"):
        format_report(validate(stacks), "xml")


def test_a_missing_stacks_directory_is_an_error_not_a_pass(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a directory"):
        validate(tmp_path / "stakcs")
