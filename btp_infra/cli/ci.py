"""``btp-infra ci affected | comment | drift-issue``: the GitHub workflows' logic (:mod:`btp_infra.ci`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from btp_infra.cli._app import main

if TYPE_CHECKING:
    from btp_infra.ci.report import Verified


@main.group()
def ci() -> None:
    """Helpers for the GitHub workflows: affected stacks, the PR comment, the drift issues."""


@ci.command()
@click.option(
    "--base", required=True, metavar="REF", help="The base ref (the PR's target, or the previous push)."
)
@click.option("--head", default="HEAD", show_default=True, metavar="REF", help="The head ref.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON decision.")
@click.option(
    "--github-output",
    is_flag=True,
    help="Append stacks=/offboard=/production=/all=/any= lines to $GITHUB_OUTPUT.",
)
@click.option(
    "--stacks-dir", default="stacks", show_default=True, help="Where the stack files are (repo-relative)."
)
@click.option(
    "--repo-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="The git checkout.",
)
def affected(
    base: str, head: str, as_json: bool, github_output: bool, stacks_dir: str, repo_dir: Path
) -> None:
    """Decide which stacks a change touches, from `git diff --name-status -M BASE...HEAD`.

    \b
    - stacks/Pulumi.<s>.yaml added, modified or renamed to   -> stack s
    - stacks/Pulumi.<s>.yaml deleted or renamed away         -> tenant s offboarded
      (unless a file of that name exists on HEAD)
    - btp_infra/**, __main__.py, Pulumi.yaml, requirements*.txt, pyproject.toml,
      setup.py/cfg, policies/**                              -> every stack on HEAD
    - docs only: *.md/*.rst/*.txt, docs/, benchmarks/, tests/, examples/, .github/,
      .ci/, btp_infra/ci|sandbox|testing/, other files in stacks/, Makefile, LICENSE
                                                             -> nothing
    - any other path                                         -> every stack (conservative)
    - --base 0000... (a push that created the branch)        -> every stack
    - production: those of them (affected or offboarded) whose stack file carries
      btp-infra:labels {environment: production} on the base or the head commit

    JSON: {"stacks": [...], "offboard": [...], "production": [...], "all": bool, "reasons": {stack: [why]},
    "shared": [paths], "ignored": [paths]}. Exit code 0; 1 a git error (unknown ref, not a repository).
    """
    from btp_infra.ci.affected import GitError
    from btp_infra.ci.affected import affected as decide

    try:
        result = decide(repo_dir, base, head, stacks_dir)
    except GitError as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    if github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if not target:
            raise click.UsageError("--github-output: GITHUB_OUTPUT is not set")
        with open(target, "a", encoding="utf-8") as out:
            out.write(result.github_output())
    click.echo(result.json_text() if as_json else result.text(), nl=False)


def _stack_files(stacks_dir: Path) -> list[Path]:
    return sorted(stacks_dir.glob("Pulumi.*.yaml")) if stacks_dir.is_dir() else []


def _run_url() -> str | None:
    server, repo, run = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


_VERIFY = click.option(
    "--verify",
    "verify_reports",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="btp-infra verify --json output, files or directories (repeatable).",
)


def _verified(paths: tuple[Path, ...]) -> list[Verified]:
    """Each stack of the ``btp-infra verify --json`` reports, with its Markdown section."""
    from btp_infra.ci.report import Verified, load_documents
    from btp_infra.operations.verify import VerifyReport

    found: list[Verified] = []
    for path, doc in load_documents(paths):
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: not a verify report")
        try:
            report = VerifyReport.from_dict(doc)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        found.extend(Verified(s.stack, s.status, VerifyReport([s]).markdown()) for s in report.stacks)
    return found


def _offboard_names(values: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for value in values:
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                names.extend(str(v) for v in json.loads(stripped))
            except ValueError:
                raise click.UsageError(f"--offboard: not a JSON list: {value!r}") from None
        elif stripped:
            names.append(stripped)
    return names


_STACKS_DIR = click.option(
    "--stacks-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("stacks"),
    show_default=True,
    help="Stack files whose secret config values are redacted from the output.",
)


@ci.command()
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="btp-infra plan --json output.",
)
@click.option(
    "--preview",
    "previews",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A btp-infra preview --json / pulumi preview --json file, or a directory of them (repeatable).",
)
@click.option(
    "--offboard", multiple=True, metavar="STACK|JSON", help="Tenants being offboarded (names or a JSON list)."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the comment body here.")
@click.option(
    "--full-out", type=click.Path(dir_okay=False, path_type=Path), help="Write the untrimmed markdown here."
)
@click.option(
    "--summary/--no-summary",
    default=True,
    show_default=True,
    help="Append the full markdown to $GITHUB_STEP_SUMMARY when set.",
)
@click.option(
    "--details-url", help="Link to the full output (default: this workflow run, from GITHUB_* env)."
)
@click.option("--post", is_flag=True, help="Create or update the PR comment (GITHUB_TOKEN, GITHUB_API_URL).")
@click.option(
    "--repo", metavar="OWNER/NAME", help="With --post: the repository (default $GITHUB_REPOSITORY)."
)
@click.option("--pr", type=int, help="With --post: the pull request number.")
@_VERIFY
@_STACKS_DIR
def comment(
    plan_file: Path | None,
    previews: tuple[Path, ...],
    offboard: tuple[str, ...],
    out: Path | None,
    full_out: Path | None,
    summary: bool,
    details_url: str | None,
    post: bool,
    repo: str | None,
    pr: int | None,
    verify_reports: tuple[Path, ...],
    stacks_dir: Path,
) -> None:
    """Build the one self-updating PR comment from the plan and preview JSON (and verify reports).

    A table of tenants (create/update/replace/delete, preview result, policy verdict); replaces and deletes
    of Secrets, namespaces and credentials and offboarded tenants flagged first; findings per tenant in
    collapsed sections; trimmed whole blocks at a time under 65,536 characters (saying what was cut); secrets
    redacted. Without --out/--post the body is printed. With --post the previous comment carrying
    `<!-- btp-infra:pr-comment -->` is updated in place, else one is created.
    Exit code 0; 1 posting failed; 2 usage error (unreadable input, missing --repo/--pr).
    """
    from btp_infra.ci import comment as builder
    from btp_infra.ci.github import GitHub, GitHubError
    from btp_infra.ci.report import Redaction, aggregate, load_documents

    if not plan_file and not previews and not offboard and not verify_reports:
        raise click.UsageError("give --plan, --preview, --offboard or --verify")
    repo = repo or os.environ.get("GITHUB_REPOSITORY")
    if post and (not repo or pr is None):
        raise click.UsageError("--post needs --repo OWNER/NAME (or GITHUB_REPOSITORY) and --pr N")
    try:
        plan = json.loads(plan_file.read_text(encoding="utf-8")) if plan_file else None
        tenants, flags = aggregate(
            plan,
            load_documents(previews),
            offboard=_offboard_names(offboard),
            verified=_verified(verify_reports),
        )
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    redact = Redaction(_stack_files(stacks_dir))
    built = builder.build(tenants, flags, redact, details_url=details_url or _run_url())
    if out:
        out.write_text(built.body, encoding="utf-8")
    if full_out:
        full_out.write_text(built.full, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(built.full)
    if post:
        assert repo is not None and pr is not None
        try:
            action, ident = builder.post(GitHub(repo), pr, built.body)
        except GitHubError as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(1)
        click.echo(f"{action} comment {ident} on {repo}#{pr}", err=True)
    elif not out:
        click.echo(built.body, nl=False)


@ci.command("drift-issue")
@click.option(
    "--preview",
    "previews",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="preview --refresh --json output (fleet or pulumi JSON), files or directories (repeatable).",
)
@click.option("--post", is_flag=True, help="Open/update/close the issues (GITHUB_TOKEN, GITHUB_API_URL).")
@click.option(
    "--repo", metavar="OWNER/NAME", help="With --post: the repository (default $GITHUB_REPOSITORY)."
)
@_VERIFY
@_STACKS_DIR
def drift_issue(
    previews: tuple[Path, ...],
    post: bool,
    repo: str | None,
    verify_reports: tuple[Path, ...],
    stacks_dir: Path,
) -> None:
    """One issue per drifting tenant: `Drift: tenant <stack>`, label btp-infra-drift.

    A tenant drifts when its preview reports a create/update/replace/delete, or when its `btp-infra verify`
    report (--verify) has a failure or a warning (x509 credentials inside the expiry window included); it is
    clean when the preview succeeded without changes and verify passed (its open issue is then commented on
    and closed); a failed preview without changes is `unknown` (its issue is left as it is). Prints JSON:
    without --post the planned issues ([{"stack", "state", "title", "body"}]), with --post what was done
    ([{"stack", "state", "action", "issue"}]).
    Exit code 0; 1 the GitHub API failed; 2 usage error.
    """
    from btp_infra.ci import drift
    from btp_infra.ci.github import GitHub, GitHubError
    from btp_infra.ci.report import Redaction, aggregate, load_documents

    repo = repo or os.environ.get("GITHUB_REPOSITORY")
    if post and not repo:
        raise click.UsageError("--post needs --repo OWNER/NAME (or GITHUB_REPOSITORY)")
    try:
        tenants, _ = aggregate(None, load_documents(previews), verified=_verified(verify_reports))
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    plans = drift.plan_issues(tenants, Redaction(_stack_files(stacks_dir)), _run_url())
    if not post:
        doc: object = [{"stack": p.stack, "state": p.state, "title": p.title, "body": p.body} for p in plans]
    else:
        assert repo is not None
        try:
            doc = drift.sync(GitHub(repo), plans)
        except GitHubError as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(1)
    click.echo(json.dumps(doc, indent=2))
