"""``btp-infra ci affected``: the stacks a change touches, decided in real temporary git repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from btp_infra.ci.affected import Change, classify, parse_name_status
from btp_infra.cli import main

STACK = "config:\n  btp-infra:tenant: {t}\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    git(tmp_path, "config", "commit.gpgsign", "false")
    files = {
        "Pulumi.yaml": "name: btp-infra\nstackConfigDir: stacks\n",
        "__main__.py": "import btp_infra.program\n",
        "btp_infra/program.py": "X = 1\n",
        "btp_infra/ci/affected.py": "Y = 1\n",
        "policies/__main__.py": "P = 1\n",
        "README.md": "# readme\n",
        "docs/architecture.md": "# arch\n",
        "tests/test_x.py": "def test(): pass\n",
        "stacks/README.md": "stacks\n",
        "requirements.txt": "pulumi\n",
    }
    for stack in ("orders", "billing", "hr"):
        files[f"stacks/Pulumi.{stack}.yaml"] = (
            STACK.format(t=stack) + f"  # {stack} tenant, long enough for rename detection\n"
        )
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "checkout", "-q", "-b", "pr")
    return tmp_path


def commit(repo: Path, msg: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", msg)


def run(repo: Path, *extra: str) -> dict[str, object]:
    result = CliRunner().invoke(
        main, ["ci", "affected", "--base", "main", "--repo-dir", str(repo), "--json", *extra]
    )
    assert result.exit_code == 0, result.output
    doc: dict[str, object] = json.loads(result.output)
    return doc


def test_changed_stack_file_is_that_stack_only(repo: Path) -> None:
    (repo / "stacks/Pulumi.orders.yaml").write_text(STACK.format(t="orders") + "  # changed\n")
    commit(repo)
    doc = run(repo)
    assert doc["stacks"] == ["orders"] and doc["offboard"] == [] and doc["all"] is False
    assert doc["reasons"] == {"orders": ["stacks/Pulumi.orders.yaml modified"]}


def test_added_stack(repo: Path) -> None:
    (repo / "stacks/Pulumi.new.yaml").write_text(STACK.format(t="new"))
    commit(repo)
    assert run(repo)["stacks"] == ["new"]


def test_deleted_stack_is_offboarded(repo: Path) -> None:
    (repo / "stacks/Pulumi.hr.yaml").unlink()
    commit(repo)
    doc = run(repo)
    assert doc["stacks"] == [] and doc["offboard"] == ["hr"]
    assert doc["reasons"] == {"hr": ["stacks/Pulumi.hr.yaml deleted"]}


def test_rename_is_new_stack_and_offboards_old(repo: Path) -> None:
    git(repo, "mv", "stacks/Pulumi.billing.yaml", "stacks/Pulumi.invoicing.yaml")
    commit(repo)
    doc = run(repo)
    assert doc["stacks"] == ["invoicing"] and doc["offboard"] == ["billing"]
    reasons = doc["reasons"]
    assert isinstance(reasons, dict)
    assert reasons["invoicing"] == ["stacks/Pulumi.invoicing.yaml renamed from stacks/Pulumi.billing.yaml"]


def test_shared_code_change_is_every_stack(repo: Path) -> None:
    (repo / "btp_infra/program.py").write_text("X = 2\n")
    commit(repo)
    doc = run(repo)
    assert doc["all"] is True and doc["stacks"] == ["billing", "hr", "orders"] and doc["offboard"] == []
    assert doc["shared"] == ["btp_infra/program.py"]


@pytest.mark.parametrize(
    "path", ["policies/__main__.py", "Pulumi.yaml", "requirements.txt", "__main__.py", "setup.sh"]
)
def test_other_shared_paths(repo: Path, path: str) -> None:
    (repo / path).write_text("changed\n")
    commit(repo)
    assert run(repo)["all"] is True


def test_docs_only_is_nothing(repo: Path) -> None:
    for path in (
        "README.md",
        "docs/architecture.md",
        "tests/test_x.py",
        "stacks/README.md",
        "btp_infra/ci/affected.py",
        "benchmarks/b.py",
    ):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("changed\n")
    commit(repo)
    doc = run(repo)
    assert doc["stacks"] == [] and doc["offboard"] == [] and doc["all"] is False and doc["reasons"] == {}
    assert len(doc["ignored"]) == 6  # type: ignore[arg-type]


def test_mixed_shared_change_and_deletion(repo: Path) -> None:
    (repo / "stacks/Pulumi.hr.yaml").unlink()
    (repo / "stacks/Pulumi.orders.yaml").write_text(STACK.format(t="orders") + "  # changed\n")
    (repo / "btp_infra/program.py").write_text("X = 3\n")
    (repo / "README.md").write_text("more docs\n")
    commit(repo)
    doc = run(repo)
    assert doc["all"] is True and doc["stacks"] == ["billing", "orders"] and doc["offboard"] == ["hr"]
    reasons = doc["reasons"]
    assert isinstance(reasons, dict)
    assert reasons["orders"] == ["stacks/Pulumi.orders.yaml modified", "shared change: btp_infra/program.py"]
    assert doc["ignored"] == ["README.md"]


def test_base_moved_on_uses_merge_base(repo: Path) -> None:
    """Changes on main since the PR branched are not the PR's (base...head)."""
    (repo / "stacks/Pulumi.orders.yaml").write_text(STACK.format(t="orders") + "  # pr\n")
    commit(repo)
    git(repo, "checkout", "-q", "main")
    (repo / "btp_infra/program.py").write_text("X = 9\n")
    commit(repo, "main moved")
    git(repo, "checkout", "-q", "pr")
    assert run(repo)["stacks"] == ["orders"]


def test_github_output(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "stacks/Pulumi.hr.yaml").unlink()
    commit(repo)
    out = tmp_path / "gh-output"
    out.write_text("earlier=1\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    run(repo, "--github-output")
    assert out.read_text() == ('earlier=1\nstacks=[]\noffboard=["hr"]\nproduction=[]\nall=false\nany=true\n')


def test_unknown_ref_is_exit_1(repo: Path) -> None:
    result = CliRunner().invoke(main, ["ci", "affected", "--base", "nope", "--repo-dir", str(repo)])
    assert result.exit_code == 1 and "nope" in result.output


def test_text_output(repo: Path) -> None:
    (repo / "stacks/Pulumi.orders.yaml").write_text("changed: 1\n")
    commit(repo)
    result = CliRunner().invoke(main, ["ci", "affected", "--base", "main", "--repo-dir", str(repo)])
    assert result.exit_code == 0
    assert result.output.startswith("stacks: orders\noffboard: -\nproduction: -\n")


def test_parse_and_classify_without_git() -> None:
    changes = parse_name_status(
        "M\0stacks/Pulumi.a.yaml\0R087\0stacks/Pulumi.b.yaml\0docs/b.md\0D\0stacks/Pulumi.c.yml\0"
    )
    assert changes == [
        Change("M", "stacks/Pulumi.a.yaml"),
        Change("R", "docs/b.md", "stacks/Pulumi.b.yaml"),
        Change("D", "stacks/Pulumi.c.yml"),
    ]
    result = classify(changes, head_stacks=["a"])
    assert (result.stacks, result.offboard, result.all) == (["a"], ["b", "c"], False)
    # A stack file deleted and re-created under another file name of the same stack is not offboarded.
    again = classify(
        [Change("D", "stacks/Pulumi.a.yml"), Change("A", "stacks/Pulumi.a.yaml")], head_stacks=["a"]
    )
    assert (again.stacks, again.offboard) == (["a"], [])


def test_zero_base_is_every_stack(repo: Path) -> None:
    result = CliRunner().invoke(
        main, ["ci", "affected", "--base", "0" * 40, "--repo-dir", str(repo), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["all"] is True and doc["stacks"] == ["billing", "hr", "orders"] and doc["offboard"] == []


PRODUCTION = "config:\n  btp-infra:labels:\n    environment: production\n"


def test_production_is_the_label_on_the_base_or_the_head(repo: Path) -> None:
    """The approval follows the label on either commit: added here, removed here, on an offboarded tenant,
    or on a stack the change does not touch (not listed: it is not deployed)."""
    (repo / "stacks/Pulumi.hr.yaml").write_text(PRODUCTION)  # the base: hr is production
    (repo / "stacks/Pulumi.billing.yaml").write_text(PRODUCTION + "# billing\n")
    commit(repo, "labels")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "pr")
    git(repo, "checkout", "-q", "pr")
    (repo / "stacks/Pulumi.hr.yaml").write_text("config:\n  btp-infra:labels:\n    environment: test\n")
    (repo / "stacks/Pulumi.orders.yaml").write_text(PRODUCTION + "# orders\n")  # becomes production
    (repo / "stacks/Pulumi.new.yaml").write_text("config:\n  btp-infra:tenant: new\n")
    commit(repo)
    doc = run(repo)
    assert doc["stacks"] == ["hr", "new", "orders"]
    assert doc["production"] == ["hr", "orders"]  # billing is production but untouched
    (repo / "stacks/Pulumi.billing.yaml").unlink()
    commit(repo, "offboard billing")
    doc = run(repo)
    assert doc["offboard"] == ["billing"] and doc["production"] == ["billing", "hr", "orders"]


def test_an_unreadable_stack_file_counts_as_production(repo: Path) -> None:
    (repo / "stacks/Pulumi.orders.yaml").write_text("config: [unclosed\n")
    commit(repo)
    assert run(repo)["production"] == ["orders"]


def test_zero_base_lists_production_from_head(repo: Path) -> None:
    (repo / "stacks/Pulumi.orders.yaml").write_text(PRODUCTION)
    commit(repo)
    result = CliRunner().invoke(
        main, ["ci", "affected", "--base", "0" * 40, "--repo-dir", str(repo), "--json"]
    )
    assert json.loads(result.output)["production"] == ["orders"]
