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
#: The only write permissions, and the one job each may appear in (besides ``id-token: write``, which exactly
#: the jobs that log in to Pulumi Cloud through OIDC have).
ALLOWED_WRITES = {("preview.yml", "comment", "pull-requests"), ("drift.yml", "issues", "issues")}
OIDC_ACTION = "pulumi/auth-actions@v2"


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
        oidc = any(st.get("uses") == OIDC_ACTION for st in job.get("steps", []))
        assert (permissions.get("id-token") == "write") is oidc, (name, job_id)
        for scope, level in permissions.items():
            assert level in {"read", "write", "none"}
            if level == "write" and scope != "id-token":
                assert (name, job_id, scope) in ALLOWED_WRITES, (name, job_id, scope)
    for name, job_id, scope in ALLOWED_WRITES:
        assert load(name)["jobs"][job_id]["permissions"][scope] == "write"


def test_every_matrix_is_bounded() -> None:
    matrices = [(name, job_id, job) for name, job_id, job in jobs() if "matrix" in job.get("strategy", {})]
    assert {(n, j) for n, j, _ in matrices} >= {
        ("preview.yml", "preview"),
        ("preview.yml", "offboard-preview"),
        ("deploy.yml", "plan"),
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


def test_the_action_only_installs_the_cli_and_one_pulumi_run_per_step() -> None:
    """pulumi/actions without ``command`` installs the CLI and exits (src/main.ts, ``installOnly``); every
    Pulumi operation is one CLI call whose output the workflow keeps (no second preview for the comment)."""
    for name, job_id, s in pulumi_steps():
        assert set(s["with"]) == {"pulumi-version"}, (name, job_id)
    preview = step("preview.yml", "preview", "pulumi preview")["run"]
    assert 'pulumi stack select --create "$STACK"' in preview  # a new stack file: its stack is created
    assert preview.count("pulumi preview ") == 1
    assert 'pulumi preview --stack "$STACK" --refresh --policy-pack policies --json' in preview
    offboard = step("preview.yml", "offboard-preview", "destroy --preview-only")["run"]
    assert 'pulumi destroy --stack "$STACK" --preview-only --refresh --json' in offboard
    plan = step("deploy.yml", "plan", "save-plan")["run"]
    assert 'pulumi stack select --create "$STACK"' in plan
    assert '--refresh --policy-pack policies --save-plan "plan/$STACK.json"' in plan
    up = step("deploy.yml", "up", "up --plan")["run"]
    assert up == 'pulumi up --stack "$STACK" --yes --refresh --policy-pack policies --plan "plan/$STACK.json"'
    assert load("deploy.yml")["jobs"]["up"]["needs"] == ["affected", "plan"]
    download = [
        s for s in load("deploy.yml")["jobs"]["up"]["steps"] if "download-artifact" in s.get("uses", "")
    ]
    assert download[0]["with"]["name"] == "plan-${{ matrix.stack }}"
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
    pulumi_jobs = 0
    for name, job_id, job in jobs():
        env = job.get("env", {})
        if "BTP_CIS_SERVICE_KEY" not in env:
            continue
        pulumi_jobs += 1
        assert env == {
            "PULUMI_BACKEND_URL": "${{ secrets.PULUMI_BACKEND_URL }}",
            "PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
            "BTP_CIS_SERVICE_KEY": "${{ secrets.BTP_CIS_SERVICE_KEY }}",
        }, (name, job_id)
        by_name = {s.get("name"): s for s in job["steps"]}
        kube = by_name["kubeconfig"]
        assert kube["env"] == {"KUBECONFIG_CONTENT": "${{ secrets.KUBECONFIG }}"}
        assert kube["run"].splitlines()[0] == "umask 077"
        # Pulumi Cloud: OIDC when the workflow names the organization, else the token secret (if any).
        oidc = by_name["Pulumi Cloud token through OIDC"]
        assert (oidc["uses"], oidc["if"]) == (OIDC_ACTION, "env.PULUMI_ORGANIZATION != ''")
        assert oidc["with"]["requested-token-type"] == "urn:pulumi:token-type:access_token:organization"
        token = by_name["Pulumi Cloud token from the repository secret"]
        assert token["if"] == "env.PULUMI_ORGANIZATION == ''"
        assert token["env"] == {"TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
        names = list(by_name)
        assert names.index("Pulumi Cloud token through OIDC") < names.index("install the pinned Pulumi CLI")
    assert pulumi_jobs == 6
    for name in ("preview.yml", "deploy.yml", "drift.yml"):
        assert load(name)["env"]["PULUMI_ORGANIZATION"] == ""


def test_the_token_step_exports_the_secret_only_when_set(tmp_path: Path) -> None:
    script = step("deploy.yml", "up", "token from the repository secret")["run"]
    for token, expected in (("", ""), ("pul-0123", "PULUMI_ACCESS_TOKEN=pul-0123\n")):
        out = tmp_path / f"env{len(token)}"
        out.write_text("")
        done = run_step(
            script, tmp_path, {"PATH": os.environ["PATH"], "TOKEN": token, "GITHUB_ENV": str(out)}
        )
        assert done.returncode == 0, done.stderr
        assert out.read_text() == expected


def test_the_ci_commands_are_called_as_specified() -> None:
    runs = "\n".join(str(s.get("run", "")) for _, _, s in steps())
    assert 'btp-infra ci affected --base "$BASE_SHA" --head "$HEAD_SHA" --github-output' in runs
    assert (
        "btp-infra ci comment --plan plan.json --preview preview --post"
        ' --repo "$GITHUB_REPOSITORY" --pr "$PR_NUMBER"' in runs
    )
    assert (
        "btp-infra ci drift-issue --preview drift/preview --verify drift/verify --post"
        ' --repo "$GITHUB_REPOSITORY"' in runs
    )
    assert 'btp-infra verify --stack "$STACK" --expiry-window 30d --json' in runs


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


def git_history(clone: Path, change: Any) -> tuple[str, str]:
    """Commit ``clone`` as a base, apply ``change(clone)``, commit it as the head; the two SHAs."""
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    change(clone)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "head"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    return base.stdout.strip(), head.stdout.strip()


def github_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_deploys_affected_step_names_the_production_tenants_before_or_after(
    workspace: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """deploy.yml's production split comes from `btp-infra ci affected`: the label on either commit."""
    clone, env = workspace
    with_tenants(clone, "a", "b", "c")
    prod = "btp-infra:labels:\n    environment: production\n"
    for stack in ("a", "c"):
        path = clone / "stacks" / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text().replace("config:\n", "config:\n  " + prod, 1))

    def change(repo: Path) -> None:
        for stack in ("a", "b"):
            path = repo / "stacks" / f"Pulumi.{stack}.yaml"
            path.write_text(path.read_text() + "# touched\n")
        path = repo / "stacks" / "Pulumi.c.yaml"
        path.write_text(path.read_text().replace("environment: production", "environment: staging"))

    try:
        base, head = git_history(clone, change)
        output = tmp_path / "out"
        output.write_text("")
        done = run_step(
            step("deploy.yml", "affected", "ci affected")["run"],
            clone,
            env | {"BASE_SHA": base, "HEAD_SHA": head, "GITHUB_OUTPUT": str(output)},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs = github_outputs(output)
        assert json.loads(outputs["stacks"]) == ["a", "b", "c"]
        assert json.loads(outputs["production"]) == ["a", "c"]
    finally:
        shutil.rmtree(clone / ".git")


STUB_PULUMI = """#!/bin/sh
# A stand-in for the Pulumi CLI in the workflows' shell steps: records its arguments, prints JSON on stdout
# and a line on stderr, exits with $STUB_EXIT.
printf '%s\\n' "$*" >> "$STUB_LOG"
case "$1" in
  preview|destroy) urn="urn:pulumi:$STUB_STACK::btp-infra::kubernetes:core/v1:Namespace::tenant-namespace"
     printf '{"steps": [{"op": "create", "urn": "%s"}], "diagnostics": []}\\n' "$urn"
     echo "stub stderr for $1" >&2
     exit "${STUB_EXIT:-0}";;
esac
exit 0
"""


@pytest.fixture
def stub_pulumi(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(STUB_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "pulumi-calls.log"
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STUB_LOG": str(log)}, log


@pytest.mark.parametrize("exit_code", [0, 255])
def test_the_preview_step_keeps_json_log_and_exit_status_for_the_comment(
    tmp_path: Path, stub_pulumi: tuple[dict[str, str], Path], exit_code: int
) -> None:
    env, log = stub_pulumi
    work = tmp_path / "work"
    work.mkdir()
    env |= {"STACK": "orders", "STUB_STACK": "orders", "STUB_EXIT": str(exit_code)}
    done = run_step(step("preview.yml", "preview", "pulumi preview")["run"], work, env)
    assert done.returncode == exit_code
    assert log.read_text().splitlines() == [
        "stack select --create orders",
        "preview --stack orders --refresh --policy-pack policies --json",
    ]
    assert json.loads((work / "preview" / "orders.json").read_text())["steps"][0]["op"] == "create"
    assert (work / "preview" / "orders.exitcode").read_text() == f"{exit_code}\n"
    assert (work / "preview" / "orders.log").read_text() == "stub stderr for preview\n"
    assert "stub stderr for preview" in done.stderr  # the job log shows it too
    from btp_infra.ci.report import aggregate, load_documents

    [tenant], _ = aggregate(None, load_documents([work / "preview"]))
    assert (tenant.stack, tenant.changes["create"]) == ("orders", 1)
    assert tenant.previewed == ("succeeded" if exit_code == 0 else "failed")


def test_the_offboard_preview_restores_the_file_and_previews_the_destroy(
    workspace: tuple[Path, dict[str, str]], tmp_path: Path, stub_pulumi: tuple[dict[str, str], Path]
) -> None:
    clone, env = workspace
    with_tenants(clone, "orders", "billing")
    stub_env, log = stub_pulumi
    try:
        base, _ = git_history(clone, lambda repo: (repo / "stacks" / "Pulumi.billing.yaml").unlink())
        job = env | stub_env | {"STACK": "billing", "STUB_STACK": "billing", "BASE_SHA": base}
        restore = run_step(step("preview.yml", "offboard-preview", "restore")["run"], clone, job)
        assert restore.returncode == 0, restore.stderr
        assert "btp-infra:namespace: billing" in (clone / "stacks" / "Pulumi.billing.yaml").read_text()
        done = run_step(step("preview.yml", "offboard-preview", "destroy --preview-only")["run"], clone, job)
        assert done.returncode == 0, done.stderr
        assert log.read_text().splitlines() == ["destroy --stack billing --preview-only --refresh --json"]
        assert (clone / "preview" / "billing.exitcode").read_text() == "0\n"
    finally:
        shutil.rmtree(clone / ".git")
        shutil.rmtree(clone / "preview", ignore_errors=True)


def test_the_deploy_plan_and_up_steps(tmp_path: Path, stub_pulumi: tuple[dict[str, str], Path]) -> None:
    env, log = stub_pulumi
    summary = tmp_path / "summary.md"
    env |= {"STACK": "orders", "STUB_STACK": "orders", "GITHUB_STEP_SUMMARY": str(summary)}
    done = run_step(step("deploy.yml", "plan", "save-plan")["run"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert run_step(step("deploy.yml", "up", "up --plan")["run"], tmp_path, env).returncode == 0
    assert log.read_text().splitlines() == [
        "stack select --create orders",
        "preview --stack orders --refresh --policy-pack policies --save-plan plan/orders.json --color never",
        "up --stack orders --yes --refresh --policy-pack policies --plan plan/orders.json",
    ]
    text = summary.read_text()
    assert text.startswith("### Update plan of `orders`") and "stub stderr for preview" in text
    assert text.rstrip().endswith("```")
    failing = run_step(step("deploy.yml", "plan", "save-plan")["run"], tmp_path, env | {"STUB_EXIT": "3"})
    assert failing.returncode == 3  # a failed preview fails the job: no plan, no up


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
