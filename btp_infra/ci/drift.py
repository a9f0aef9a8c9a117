"""The scheduled drift job's issues: one open issue per drifting tenant (title ``Drift: tenant <stack>``,
label :data:`LABEL`), updated while it drifts, closed when a preview finds it clean."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from btp_infra.ci.github import GitHub
from btp_infra.ci.report import (
    GITHUB_LIMIT,
    TABLE_HEAD,
    Block,
    Tenant,
    details_block,
    fit,
    tenant_row,
    verify_block,
)

__all__ = ["LABEL", "IssuePlan", "plan_issues", "sync", "title_for"]

LABEL: Final = "btp-infra-drift"
State = Literal["drift", "clean", "unknown"]


def title_for(stack: str) -> str:
    return f"Drift: tenant {stack}"


@dataclass(frozen=True)
class IssuePlan:
    stack: str
    state: State  # drift: open/update; clean: close if open; unknown (preview failed without changes): leave
    title: str
    body: str


def _state(t: Tenant) -> State:
    """``drift`` also when `btp-infra verify` failed or warned (a live mapping that is wrong, x509
    credentials inside their expiry window: what a preview cannot see); ``clean`` needs a clean preview and,
    when verified, a passing verify."""
    if t.changed or t.verify in ("fail", "warn"):
        return "drift"
    return "clean" if t.previewed == "succeeded" else "unknown"


def _body(t: Tenant, redact: Callable[[str], str], run_url: str | None) -> str:
    marker = f"<!-- btp-infra:drift:{t.stack} -->\n"
    if t.changed:
        what = (
            f"`pulumi preview --refresh --expect-no-changes` found drift in tenant `{t.stack}`: the deployed "
            "resources no longer match the stack. Run `btp-infra preview --stack "
            f"{t.stack} --refresh` to see it, then `up` (restore) or change the stack file (accept)."
        )
    else:
        what = (
            f"`btp-infra verify` reports problems in tenant `{t.stack}` that a preview cannot see (the live "
            f"mapping, credentials, expiry). Run `btp-infra verify --stack {t.stack}` and follow each fix."
        )
    head = Block(f"{marker}{what}\n\n" + (f"Run: {run_url}\n\n" if run_url else ""))
    blocks = [head, Block(TABLE_HEAD + redact(tenant_row(t)) + "\n", "row")]
    details = details_block(t, redact)
    if details:
        blocks.append(Block(details, "details"))
    section = verify_block(t, redact)
    if section:
        blocks.append(Block(section, "verify"))
    body, _ = fit(blocks, GITHUB_LIMIT, lambda o: "\n> ✂️ Trimmed to fit GitHub's limit; see the run.\n")
    return body


def plan_issues(
    tenants: Sequence[Tenant], redact: Callable[[str], str], run_url: str | None = None
) -> list[IssuePlan]:
    return [IssuePlan(t.stack, _state(t), title_for(t.stack), _body(t, redact, run_url)) for t in tenants]


def sync(gh: GitHub, plans: Sequence[IssuePlan]) -> list[dict[str, object]]:
    """Apply the plans: ``[{"stack", "state", "action": created|updated|closed|none, "issue": n|None}]``."""
    open_by_title = {str(i.get("title")): i for i in gh.open_issues(LABEL)}
    done: list[dict[str, object]] = []
    for p in plans:
        issue = open_by_title.get(p.title)
        action, number = "none", (int(issue["number"]) if issue else None)
        if p.state == "drift":
            if issue:
                gh.update_issue(int(issue["number"]), body=p.body)
                action = "updated"
            else:
                number = int(gh.create_issue(p.title, p.body, [LABEL])["number"])
                action = "created"
        elif p.state == "clean" and issue:
            gh.create_comment(
                int(issue["number"]), f"Tenant `{p.stack}` is clean again (no drift found); closing."
            )
            gh.update_issue(int(issue["number"]), state="closed", state_reason="completed")
            action = "closed"
        done.append({"stack": p.stack, "state": p.state, "action": action, "issue": number})
    return done
