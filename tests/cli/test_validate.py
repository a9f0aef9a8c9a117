"""``btp-infra validate`` through Click's CliRunner: text, JSON and GitHub annotations; exit 1 on any
finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from btp_infra.cli import main as cli

GOOD = (
    "config:\n  btp-infra:namespace: {ns}\n  btp-infra:subaccountId: {sub}\n  btp-infra:kubeContext: kyma\n"
)
SUB = [f"5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c{n:02x}" for n in range(8)]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)


@pytest.fixture
def valid(project: Path) -> Path:
    for index, name in enumerate(("orders", "billing")):
        (project / "stacks" / f"Pulumi.{name}.yaml").write_text(GOOD.format(ns=name, sub=SUB[index]))
    return project


def test_valid_stacks(valid: Path) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    assert result.stdout == "2 stack files in stacks: valid\n"
    document = json.loads(run("--format", "json").stdout)
    assert document["ok"] is True and document["summary"]["stacks"] == 2
    github = run("--format", "github")
    assert github.exit_code == 0 and github.stdout == ""
    assert "valid" in github.stderr


def test_empty_directory_is_valid(project: Path) -> None:
    result = run()
    assert result.exit_code == 0
    assert "0 stack files" in result.stdout


def test_findings_exit_1_in_every_format(valid: Path) -> None:
    bad = valid / "stacks" / "Pulumi.bad.yaml"
    bad.write_text(GOOD.format(ns="bad", sub="not-a-guid"))
    clash = valid / "stacks" / "Pulumi.clash.yaml"
    clash.write_text(GOOD.format(ns="orders", sub=SUB[5]))

    text = run()
    assert text.exit_code == 1
    assert "subaccountId" in text.stdout and "not-a-guid" in text.stdout
    assert text.stdout.splitlines()[-1] == "4 stack files in stacks: 2 invalid, 2 problems"

    document = json.loads(run("--format", "json").stdout)
    assert document["ok"] is False
    assert any(f["file"].endswith("Pulumi.bad.yaml") for f in document["findings"])

    github = run("--format", "github")
    assert github.exit_code == 1
    lines = github.stdout.splitlines()
    assert lines and all(line.startswith("::error file=") for line in lines)
    bad_line = next(line for line in lines if "Pulumi.bad.yaml" in line)
    assert bad_line.startswith("::error file=stacks/Pulumi.bad.yaml,line=3,col=")
    assert "title=btp-infra%3AsubaccountId::" in bad_line
    assert any("Pulumi.clash.yaml" in line and "namespace" in line for line in lines)


def test_github_paths_relative_to_github_workspace(valid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (valid / "stacks" / "Pulumi.bad.yaml").write_text(GOOD.format(ns="bad", sub="nope"))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(valid.parent))
    lines = run("--format", "github").stdout.splitlines()
    assert lines[0].startswith(f"::error file={valid.name}/stacks/Pulumi.bad.yaml,")


def test_stacks_dir_option_and_missing_directory(tmp_path: Path, clean_env: None) -> None:
    directory = tmp_path / "s"
    directory.mkdir()
    (directory / "Pulumi.a.yaml").write_text(GOOD.format(ns="a", sub=SUB[0]))
    assert run("--stacks-dir", str(directory)).exit_code == 0

    missing = run("--stacks-dir", str(tmp_path / "nope"))
    assert missing.exit_code == 1
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "is not a directory" in missing.stderr


def test_unknown_format_is_a_usage_error(project: Path) -> None:
    result = run("--format", "xml")
    assert result.exit_code == 2
