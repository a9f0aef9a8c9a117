"""The GitHub Actions workflows' structure (PyYAML): secrets only through ``env:``, least-privilege
``permissions:`` per job, bounded matrices, one never-cancelled concurrency group per stack on deploy, a
pinned Pulumi CLI and pinned actions; then every ``run:`` step that works without GitHub (the install,
``btp-infra plan``, ``btp-infra validate``) executed as written in a fresh copy of the repository (pip from
the wheelhouse, as in tests/test_install_paths.py). actionlint itself runs in tests/test_workflows_lint.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_install_paths import INSTALL_SECONDS, fresh_copy, offline_pip_env

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = {p.name: p for p in sorted((ROOT / ".github" / "workflows").glob("*.yml"))}
PINNED_PULUMI = re.compile(r"^\d+\.\d+\.\d+$")
#: The only write permissions, and the one job each may appear in.
ALLOWED_WRITES = {("preview.yml", "comment", "pull-requests"), ("drift.yml", "issues", "issues")}


def load(name: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOWS[name].read_text())
    return document


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, job) for name in WORKFLOWS for job_id, job in load(name)["jobs"].items()]


def steps() -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, step) for name, job_id, job in jobs() for step in job.get("steps", [])]


def step(workflow: str, job: str, name_part: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        s for s in load(workflow)["jobs"][job]["steps"] if name_part in str(s.get("name", ""))
    ]
    assert len(found) == 1, (workflow, job, name_part)
    return found[0]


def test_the_four_workflows() -> None:
    assert set(WORKFLOWS) == {"ci.yml", "preview.yml", "deploy.yml", "drift.yml"}
    triggers = {name: load(name)[True] for name in WORKFLOWS}  # PyYAML reads the key `on` as True
    assert set(triggers["ci.yml"]) == {"push", "pull_request"}
    assert set(triggers["preview.yml"]) == {"pull_request"}
    assert triggers["deploy.yml"] == {"push": {"branches": ["main"]}}
    assert set(triggers["drift.yml"]) == {"schedule", "workflow_dispatch"}


def test_no_secret_is_pasted_into_a_script() -> None:
    for name, job_id, s in steps():
        assert "secrets." not in str(s.get("run", "")), (name, job_id, s.get("name"))
        assert "${{" not in str(s.get("run", "")), (name, job_id, s.get("name"))  # values only through env:


def test_every_job_has_least_privilege_permissions() -> None:
    for name in WORKFLOWS:
        assert load(name)["permissions"] == {"contents": "read"}, name
    for name, job_id, job in jobs():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), (name, job_id)
        assert permissions.get("contents") == "read", (name, job_id)
        for scope, level in permissions.items():
            assert level in {"read", "write", "none"}
            if level == "write":
                assert (name, job_id, scope) in ALLOWED_WRITES, (name, job_id, scope)
    for name, job_id, scope in ALLOWED_WRITES:
        assert load(name)["jobs"][job_id]["permissions"][scope] == "write"


def test_every_matrix_is_bounded() -> None:
    matrices = [(name, job_id, job) for name, job_id, job in jobs() if "matrix" in job.get("strategy", {})]
    assert {(n, j) for n, j, _ in matrices} >= {
        ("preview.yml", "preview"),
        ("deploy.yml", "up"),
        ("drift.yml", "preview"),
    }
    for name, job_id, job in matrices:
        assert 1 <= int(job["strategy"]["max-parallel"]) <= 8, (name, job_id)
        assert job["strategy"]["fail-fast"] is False, (name, job_id)


def test_deploy_has_one_never_cancelled_concurrency_group_per_stack() -> None:
    deploy = load("deploy.yml")
    assert "concurrency" not in deploy  # a workflow-wide group would queue every tenant behind one
    for job_id in ("up", "offboard"):
        assert deploy["jobs"][job_id]["concurrency"] == {
            "group": "deploy-${{ matrix.stack }}",
            "cancel-in-progress": False,
        }


def test_production_tenants_and_offboarding_need_their_environments() -> None:
    deploy = load("deploy.yml")["jobs"]
    assert "'production'" in deploy["up"]["environment"]
    assert "needs.affected.outputs.production" in deploy["up"]["environment"]
    assert deploy["offboard"]["environment"] == "offboarding"
    assert deploy["offboard"]["needs"] == "affected"
    assert "offboard" in deploy["offboard"]["strategy"]["matrix"]["stack"]


def pulumi_steps() -> list[tuple[str, str, dict[str, Any]]]:
    return [(n, j, s) for n, j, s in steps() if str(s.get("uses", "")).startswith("pulumi/actions@")]


def test_the_pulumi_cli_is_pinned_and_the_action_is_v6_or_later() -> None:
    assert pulumi_steps()
    for name, job_id, s in pulumi_steps():
        major = int(s["uses"].split("@v", 1)[1].split(".")[0])
        assert major >= 6, (name, job_id)
        version = s["with"]["pulumi-version"]
        if version == "${{ env.PULUMI_VERSION }}":
            version = load(name)["env"]["PULUMI_VERSION"]
        assert PINNED_PULUMI.match(version), (name, job_id, version)


def test_previews_and_deploys_create_missing_stacks_with_the_policy_pack() -> None:
    for name, job_id, s in pulumi_steps():
        if s["with"].get("command") in {"preview", "up"}:
            assert s["with"]["upsert"] is True, (name, job_id)
            assert s["with"]["policyPacks"] == "policies", (name, job_id)
    drift = step("drift.yml", "preview", "expect-no-changes")["run"]
    assert "--refresh --expect-no-changes --policy-pack policies" in drift


def test_every_action_is_pinned_to_a_major_version_at_least() -> None:
    for name, job_id, s in steps():
        if "uses" in s:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", s["uses"]), (
                name,
                job_id,
            )


def test_the_preview_runs_only_where_secrets_exist() -> None:
    condition = load("preview.yml")["jobs"]["preview"]["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert "dependabot[bot]" in condition
    assert "secrets." not in str(load("preview.yml")["jobs"]["plan"])  # the plan is safe for fork PRs


def test_inputs_come_from_repository_secrets_through_env() -> None:
    for name, job_id, job in jobs():
        env = job.get("env", {})
        if "BTP_CIS_SERVICE_KEY" in env:
            assert env["BTP_CIS_SERVICE_KEY"] == "${{ secrets.BTP_CIS_SERVICE_KEY }}"
            assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
            assert env["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
            assert "PULUMI_BACKEND_URL" in env
            kube = [s for s in job["steps"] if s.get("name") == "kubeconfig"]
            assert len(kube) == 1, (name, job_id)
            assert kube[0]["env"] == {"KUBECONFIG_CONTENT": "${{ secrets.KUBECONFIG }}"}
            assert kube[0]["run"].splitlines()[0] == "umask 077"


def test_the_ci_commands_are_called_as_specified() -> None:
    runs = "\n".join(str(s.get("run", "")) for _, _, s in steps())
    assert 'btp-infra ci affected --base "$BASE_SHA" --head "$HEAD_SHA" --github-output' in runs
    assert (
        "btp-infra ci comment --plan plan.json --preview preview --post"
        ' --repo "$GITHUB_REPOSITORY" --pr "$PR_NUMBER"' in runs
    )
    assert 'btp-infra ci drift-issue --preview drift/*.json --post --repo "$GITHUB_REPOSITORY"' in runs


def test_ci_runs_the_test_command_with_pip_caching() -> None:
    [job] = load("ci.yml")["jobs"].values()
    assert [s["run"] for s in job["steps"] if "run" in s] == [".ci/run"]
    setup = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip"


# --------------------------------------------------------------------------------------------------
# The steps that need no GitHub, executed as written in a fresh copy of the repository.
# --------------------------------------------------------------------------------------------------


def install_script() -> str:
    scripts = {str(s["run"]) for _, _, s in steps() if "pip install" in str(s.get("run", ""))}
    assert len(scripts) == 1, scripts
    return scripts.pop()


def run_step(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """As GitHub runs a ``run:`` step on Linux: ``bash -e {0}`` (``shell: bash`` default with -e)."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh clone after the workflows' install step, with a plain ``python`` on PATH (as setup-python)."""
    clone = fresh_copy(tmp_path_factory.mktemp("clone"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VIRTUAL_ENV", "PIP_", "GITHUB_"))
    }
    env |= offline_pip_env()
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    done = run_step(install_script(), clone, env)
    assert done.returncode == 0, done.stderr[-3000:]
    env["GITHUB_WORKSPACE"] = str(clone)
    return clone, env


def with_tenants(clone: Path, *stacks: str) -> None:
    for old in (clone / "stacks").glob("Pulumi.*.yaml"):
        old.unlink()
    example = (clone / "examples" / "stacks" / "Pulumi.example.yaml").read_text()
    for index, stack in enumerate(stacks):
        text = example.replace("btp-infra:namespace: incident", f"btp-infra:namespace: {stack}")
        text = text.replace(
            "553bcbbb-e809-450f-82db-60de3ef76b1f", f"553bcbbb-e809-450f-82db-60de3ef76b{index:02x}"
        )
        (clone / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)


def test_the_install_step_gives_the_btp_infra_command(workspace: tuple[Path, dict[str, str]]) -> None:
    clone, _ = workspace
    done = subprocess.run(
        [str(clone / "venv" / "bin" / "btp-infra"), "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_plan_step_plans_the_affected_stacks(
    workspace: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    clone, env = workspace
    with_tenants(clone, "orders", "billing")
    summary = tmp_path / "summary.md"
    script = step("preview.yml", "plan", "btp-infra plan")["run"]
    done = run_step(script, clone, env | {"STACKS": '["orders"]', "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((clone / "plan.json").read_text())
    assert [s["stack"] for s in report["stacks"]] == ["orders"]
    assert "orders" in summary.read_text()


def test_the_plan_step_with_no_affected_stacks_writes_an_empty_plan(
    workspace: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    clone, env = workspace
    with_tenants(clone, "orders")
    script = step("preview.yml", "plan", "btp-infra plan")["run"]
    done = run_step(script, clone, env | {"STACKS": "[]", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")})
    assert done.returncode == 0, done.stderr
    assert json.loads((clone / "plan.json").read_text()) == {"stacks": []}


def test_the_plan_step_fails_on_a_mandatory_violation(
    workspace: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    clone, env = workspace
    with_tenants(clone, "orders")
    path = clone / "stacks" / "Pulumi.orders.yaml"
    path.write_text(
        path.read_text().replace("btp-infra:namespace: orders", "btp-infra:namespace: kube-system")
    )
    script = step("preview.yml", "plan", "btp-infra plan")["run"]
    done = run_step(
        script, clone, env | {"STACKS": '["orders"]', "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert (clone / "plan.json").is_file()  # still uploaded for the comment


def test_the_validate_step_annotates_the_changed_line(workspace: tuple[Path, dict[str, str]]) -> None:
    clone, env = workspace
    with_tenants(clone, "orders")
    script = step("preview.yml", "plan", "btp-infra validate")["run"]
    assert run_step(script, clone, env).returncode == 0
    path = clone / "stacks" / "Pulumi.orders.yaml"
    lines = path.read_text().splitlines()
    [line_no] = [i + 1 for i, line in enumerate(lines) if line.startswith("  btp-infra:subaccountId:")]
    lines[line_no - 1] = "  btp-infra:subaccountId: not-a-guid"
    path.write_text("\n".join(lines) + "\n")
    done = run_step(script, clone, env)
    assert done.returncode == 1
    assert f"::error file=stacks/Pulumi.orders.yaml,line={line_no}" in done.stdout, done.stdout


@pytest.mark.skipif(shutil.which("yq") is None or shutil.which("jq") is None, reason="needs yq and jq")
def test_the_production_step_marks_labelled_tenants_before_or_after(tmp_path: Path) -> None:
    """deploy.yml's production split, in a throwaway git repository: the label on either commit."""
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    prod = "config:\n  btp-infra:protect: true\n  btp-infra:labels:\n    environment: production\n"
    (repo / "stacks" / "Pulumi.a.yaml").write_text(prod)
    (repo / "stacks" / "Pulumi.b.yaml").write_text("config:\n  btp-infra:protect: true\n")
    (repo / "stacks" / "Pulumi.c.yaml").write_text(prod)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    base = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (repo / "stacks" / "Pulumi.c.yaml").write_text("config:\n  btp-infra:labels:\n    environment: staging\n")
    output = tmp_path / "out"
    env = dict(os.environ) | {
        "BASE_SHA": base,
        "STACKS": '["a", "b", "c", "new"]',
        "GITHUB_OUTPUT": str(output),
    }
    done = run_step(step("deploy.yml", "affected", "production")["run"], repo, env)
    assert done.returncode == 0, done.stderr
    assert output.read_text() == 'production=["a","c"]\n'


def test_the_affected_and_comment_steps_accept_what_the_workflows_pass(
    workspace: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """``btp-infra ci affected`` as preview.yml calls it, in a throwaway git history of the clone; then the
    comment step's options with the outputs it gets (without ``--post``: that one needs GitHub)."""
    clone, env = workspace
    with_tenants(clone, "orders", "billing")
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    try:
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "base"], check=True)
        base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        path = clone / "stacks" / "Pulumi.orders.yaml"
        path.write_text(path.read_text() + "\n# touched\n")
        (clone / "stacks" / "Pulumi.billing.yaml").unlink()
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "head"], check=True)
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        output = tmp_path / "github-output"
        output.write_text("")
        done = run_step(
            step("preview.yml", "affected", "ci affected")["run"],
            clone,
            env
            | {
                "BASE_SHA": base.stdout.strip(),
                "HEAD_SHA": head.stdout.strip(),
                "GITHUB_OUTPUT": str(output),
            },
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        assert json.loads(outputs["stacks"]) == ["orders"]
        assert json.loads(outputs["offboard"]) == ["billing"]
    finally:
        shutil.rmtree(clone / ".git")
    with_tenants(clone, "orders")
    plan = run_step(
        step("preview.yml", "plan", "btp-infra plan")["run"],
        clone,
        env | {"STACKS": outputs["stacks"], "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")},
    )
    assert plan.returncode == 0, plan.stderr
    (clone / "preview").mkdir(exist_ok=True)
    script = step("preview.yml", "comment", "ci comment")["run"].replace(" --post", " --out comment.md")
    done = run_step(script, clone, env | {"PR_NUMBER": "7", "OFFBOARD": outputs["offboard"]})
    assert done.returncode == 0, done.stdout + done.stderr
    body = (clone / "comment.md").read_text()
    assert "<!-- btp-infra:pr-comment -->" in body and "`orders`" in body and "billing" in body
