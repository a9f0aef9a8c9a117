"""The one self-updating PR comment: every affected tenant's plan verdict and preview counts, dangerous steps
first, trimmed under GitHub's limit, redacted, found again by its hidden :data:`MARKER`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from btp_infra.ci.github import GitHub
from btp_infra.ci.report import (
    GITHUB_LIMIT,
    TABLE_HEAD,
    Block,
    Flag,
    Tenant,
    details_block,
    fit,
    tenant_row,
    verify_block,
)

__all__ = ["MARKER", "Comment", "build", "post"]

MARKER: Final = "<!-- btp-infra:pr-comment -->"
_KIND_NAMES: Final = {
    "flag": "flagged steps",
    "row": "tenant rows",
    "details": "finding sections",
    "verify": "verify sections",
}


@dataclass(frozen=True)
class Comment:
    body: str  # the (possibly trimmed) comment
    full: str  # everything, for the job summary / artifact
    omitted: dict[str, int]


def _flag_line(f: Flag, redact: Callable[[str], str]) -> str:
    if f.op == "destroy":
        return (
            f"- 🚨 **`{f.stack}` is offboarded: the tenant will be destroyed** "
            "(namespace, Secrets, credentials)\n"
        )
    return f"- 🚨 **{f.op.upper()}** of {f.what} `{redact(f.name)}` in tenant `{f.stack}`\n"


def _blocks(
    tenants: Sequence[Tenant],
    flags: Sequence[Flag],
    redact: Callable[[str], str],
    title: str,
    details_url: str | None,
) -> tuple[list[Block], list[Block]]:
    """Header blocks (always shown) and the rest, in display order."""
    failing = sum(
        1
        for t in tenants
        if t.policy in ("failed", "invalid-config", "error") or t.previewed == "failed" or t.verify == "fail"
    )
    summary = (
        f"{len(tenants)} tenant(s), {sum(t.changed for t in tenants)} with changes, {failing} failing"
        if tenants
        else "No tenant stack is affected by this change."
    )
    where = (
        f"Full output: [job summary and artifacts]({details_url})."
        if details_url
        else "Full output: the job summary and artifacts of the workflow run."
    )
    head = [Block(f"{MARKER}\n## {title}\n\n{summary}. {where}\n\n")]
    rest: list[Block] = []
    if flags:
        rest.append(
            Block(f"### ⚠️ {len(flags)} destructive step(s) on credentials, Secrets or namespaces\n\n", "flag")
        )
        rest.extend(Block(_flag_line(f, redact), "flag") for f in flags)
        rest.append(Block("\n", "flag"))
    if tenants:
        rest.append(Block(TABLE_HEAD, "row"))
        rest.extend(Block(redact(tenant_row(t)), "row") for t in tenants)
        rest.append(Block("\n", "row"))
    for t in tenants:
        block = details_block(t, redact)
        if block:
            rest.append(Block(block, "details"))
    for t in tenants:
        section = verify_block(t, redact)
        if section:
            rest.append(Block(section, "verify"))
    return head, rest


def _note(omitted: dict[str, int]) -> str:
    parts = ", ".join(f"{n} {_KIND_NAMES.get(k, k)}" for k, n in omitted.items())
    return (
        f"\n> ✂️ Trimmed to fit GitHub's {GITHUB_LIMIT:,}-character limit: {parts} not shown. "
        "See the full output.\n"
    )


def build(
    tenants: Sequence[Tenant],
    flags: Sequence[Flag],
    redact: Callable[[str], str],
    *,
    title: str = "btp-infra preview",
    details_url: str | None = None,
    limit: int = GITHUB_LIMIT,
) -> Comment:
    head, rest = _blocks(tenants, flags, redact, title, details_url)
    full = "".join(b.text for b in [*head, *rest])
    body, omitted = fit([*head, *rest], limit, _note)
    return Comment(body=body, full=full, omitted=omitted)


def post(gh: GitHub, pr: int, body: str) -> tuple[str, int]:
    """PATCH the previous comment carrying :data:`MARKER`, else POST one: ``("updated" | "created", id)``."""
    for comment in gh.issue_comments(pr):
        if MARKER in str(comment.get("body") or ""):
            gh.update_comment(int(comment["id"]), body)
            return "updated", int(comment["id"])
    created = gh.create_comment(pr, body)
    return "created", int(created["id"])
