"""The documented install paths: every workflow installs the same way, and the policy pack runs from the
project's virtualenv as the Pulumi CLI resolves it — a relative ``virtualenv`` option is joined to the pack
directory (``sdk/python/toolchain/pip.go``, ``resolveVirtualEnvironmentPath``); the CLI never installs a
local pack's requirements. (Running pip itself needs a package index for the build backend, so it is not part
of this offline suite.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ("preview.yml", "deploy.yml")


def install_steps(workflow: str) -> list[str]:
    """The ``run:`` scripts of the steps that install with pip."""
    document: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())
    return [
        step["run"]
        for job in document["jobs"].values()
        for step in job.get("steps", [])
        if "pip install" in str(step.get("run", ""))
    ]


def test_every_workflow_installs_the_same_way() -> None:
    scripts = {script for workflow in WORKFLOWS for script in install_steps(workflow)}
    assert len(scripts) == 1, scripts
    [script] = scripts
    assert "policies/requirements.txt" not in script  # the pack shares the project's virtualenv


def test_the_pack_shares_the_projects_virtualenv() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    program_venv = (ROOT / project["runtime"]["options"]["virtualenv"]).resolve()
    pack_venv = (ROOT / "policies" / pack["runtime"]["options"]["virtualenv"]).resolve()
    assert pack_venv == program_venv
    # A requirements line such as `-e ..` resolves against pip's working directory: none may be left.
    lines = (ROOT / "policies" / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if line.strip() and not line.lstrip().startswith("#")] == []


def test_pulumi_yaml_requires_an_engine_that_passes_config_to_dynamic_providers() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["requiredPulumiVersion"] == ">=3.139.0"
