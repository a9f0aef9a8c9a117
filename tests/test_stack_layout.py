"""stacks/ belongs to the users: the examples live in examples/stacks/, and the suite's stack-reading tests
pass whatever tenants are in stacks/ (an extra valid tenant, with the documented kubeconfig path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from btp_infra.cli import main as cli
from btp_infra.config import discover_stacks, load_fleet, parse_config, validate_fleet

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "stacks"

#: A real tenant, as a user would add it (the README's snippet plus the documented explicit provider).
TENANT = """\
config:
  btp-infra:namespace: orders
  btp-infra:subaccountId: 7e5a3c1b-2d4f-4a6b-8c9d-0e1f2a3b4c5d
  btp-infra:kubeconfig: ~/.kube/config
  btp-infra:kubeContext: prod
"""

#: The tests that read shipped stacks (the examples) or the default stack directory.
STACK_READING = [
    "tests/test_config.py",
    "tests/test_plan.py",
    "tests/test_program.py",
    "tests/policy/test_policy_pack_grpc.py",
]
SELECT = "shipped or example or stack_by_name or usage_errors or fleet_is or plaintext or matches_the_stack"


def test_stacks_dir_ships_no_stack_and_the_examples_live_apart() -> None:
    assert discover_stacks(ROOT) == [] or all(
        not p.name.startswith("Pulumi.example") for p in discover_stacks(ROOT)
    )
    assert (ROOT / "stacks").is_dir() and (ROOT / "stacks" / "README.md").is_file()
    assert {p.name for p in discover_stacks(EXAMPLES)} == {"Pulumi.example.yaml", "Pulumi.example-x509.yaml"}


def test_plan_all_of_an_empty_stacks_dir_passes(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        (ROOT / "Pulumi.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "stacks").mkdir()
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        result = CliRunner().invoke(cli, ["plan", "--all"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Plan: 0 stack(s)")


def test_the_readme_snippet_does_not_collide_with_the_examples() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## A tenant stack", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    snippet = yaml.safe_load(block)["config"]
    mine = parse_config({k.split(":", 1)[1]: v for k, v in snippet.items()}, source="stacks/Pulumi.mine.yaml")
    assert validate_fleet({**load_fleet(EXAMPLES), "mine": mine}) == []


def test_stack_reading_tests_pass_with_a_tenant_in_stacks(tmp_path: Path) -> None:
    """Runs the stack-reading tests in a copy of the repository whose stacks/ holds a user's tenant."""
    for name in ("tests", "examples", "stacks", "docs"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Pulumi.yaml", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "stacks" / "Pulumi.orders.yaml").write_text(TENANT, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", SELECT, *STACK_READING],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in run.stdout
