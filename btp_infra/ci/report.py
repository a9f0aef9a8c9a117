"""The aggregated view of a change over tenants: plan verdicts, preview change counts, flagged steps.

Inputs: the ``btp-infra plan --json`` report (docs/plan-json.md), ``btp-infra preview --json`` fleet documents
(docs/fleet-json.md) and raw ``pulumi preview --json`` documents (``steps[]`` with ``op`` and ``urn``: the
only input that names resources, so the only one that can flag a replaced Secret). Rendering is markdown
blocks (:class:`Block`), each whole (a table row, a complete code fence), so a trimmed view never cuts one;
every text is redacted (:class:`Redaction`) before it is measured.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from btp_infra.config import is_secret_key
from btp_infra.conventions import (
    TYPE_NAMESPACE,
    TYPE_SECRET,
    TYPE_SERVICE_BINDING,
    TYPE_SM_ACCESS,
    TYPE_TENANT_NAMESPACE,
)
from btp_infra.offline.redaction import REDACTED, Scrubber

__all__ = [
    "GITHUB_LIMIT",
    "Block",
    "Flag",
    "Redaction",
    "Tenant",
    "Verified",
    "aggregate",
    "fence",
    "fit",
    "load_documents",
    "tenant_row",
]

GITHUB_LIMIT: Final = 65_536
"""GitHub's limit on an issue or comment body, characters."""
LOG_TAIL_LINES: Final = 20
"""How much of a failed preview's stderr (``<stack>.log``) a tenant's details show."""
SENSITIVE_TYPES: Final = {
    TYPE_SECRET: "Secret",
    TYPE_NAMESPACE: "namespace",
    TYPE_TENANT_NAMESPACE: "tenant namespace",
    TYPE_SERVICE_BINDING: "credentials (service binding)",
    TYPE_SM_ACCESS: "credentials (operator access)",
}
_REPLACE_OPS: Final = {
    "replace",
    "create-replacement",
    "delete-replaced",
    "read-replacement",
    "discard-replaced",
}
_DELETE_OPS: Final = {"delete", "discard"}
_CREATE_OPS: Final = {"create", "import"}
_PATTERNS: Final = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # a JWT
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|pul-[a-f0-9]{30,})"),
    re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"),  # user:password@ in a URL
    # A long opaque token: 32+ base64/url-safe characters with upper, lower case and digits.
    re.compile(
        r"(?<![A-Za-z0-9+/_=-])(?=[A-Za-z0-9+/_=-]*[A-Z])(?=[A-Za-z0-9+/_=-]*[a-z])"
        r"(?=[A-Za-z0-9+/_=-]*[0-9])[A-Za-z0-9+/_=-]{32,}"
    ),
)
# "clientsecret": "x", password=x, token: x  (the key decides; is_secret_key checks it).
_KEY_VALUE: Final = re.compile(
    r"(?P<key>(?<![A-Za-z0-9_.-])[\"']?(?P<name>[A-Za-z0-9_.-]{3,})[\"']?\s*[:=]\s*)(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;}\])]+)"
)


class Redaction:
    """Known secrets (:class:`~btp_infra.offline.redaction.Scrubber`: stack files' secret config values and
    secret-looking environment variables) plus anything that looks secret (a value under a secret-looking key,
    a private key, a JWT, a GitHub/Pulumi token, URL credentials, a long mixed-case opaque string)."""

    def __init__(self, stack_files: Iterable[Path] = (), *, environ: dict[str, str] | None = None) -> None:
        self.scrubber = Scrubber()
        for path in stack_files:
            self.scrubber.add_stack_file(path)
        env = os.environ if environ is None else environ
        for name, value in env.items():
            if value and is_secret_key(name):
                self.scrubber.add(value, plain_is_secret=not name.upper().endswith("KUBECONFIG"))

    def __call__(self, text: str) -> str:
        text = self.scrubber(text)
        for pattern in _PATTERNS:
            text = pattern.sub(REDACTED, text)

        def key_value(m: re.Match[str]) -> str:
            if not is_secret_key(m.group("name")) or m.group("value").strip("\"'") in ("", REDACTED):
                return m.group(0)
            return m.group("key") + REDACTED

        return _KEY_VALUE.sub(key_value, text)


@dataclass(frozen=True)
class Flag:
    """A replace or delete of something that must not be lost silently."""

    stack: str
    op: str  # "replace" | "delete" | "destroy"
    what: str
    name: str


@dataclass
class Tenant:
    """One tenant's aggregated state."""

    stack: str
    changes: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("create", "update", "replace", "delete"), 0)
    )
    previewed: str | None = None  # succeeded | failed | refused | None (no preview ran)
    operation: str | None = None
    policy: str | None = None  # plan status: passed | advisory | failed | invalid-config | error
    mandatory: int = 0
    advisory: int = 0
    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # "<change> <type> <name> (<properties>)", raw previews
    offboard: bool = False
    verify: str | None = None  # `btp-infra verify` status: pass | warn | fail | None (not verified)
    verify_section: str | None = None  # its Markdown (operations.verify.VerifyReport.markdown)

    @property
    def changed(self) -> bool:
        return any(self.changes.get(k, 0) for k in ("create", "update", "replace", "delete"))


def load_documents(paths: Sequence[Path]) -> list[tuple[Path, Any]]:
    """Each JSON file (a directory: its ``*.json`` files, sorted), decoded."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.json")) if path.is_dir() else [path])
    docs: list[tuple[Path, Any]] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
            if not text.strip() and exit_code(file) is not None:
                # The CLI failed before it printed its JSON (a stack that could not be selected, a crash):
                # the tenant shows as failed with the log's tail, and the other tenants' comment still posts.
                docs.append((file, {"steps": [], "diagnostics": []}))
                continue
            docs.append((file, json.loads(text)))
        except (OSError, ValueError) as err:
            raise ValueError(f"{file}: not a readable JSON document ({err})") from None
    return docs


def exit_code(path: Path) -> int | None:
    """The exit status the workflow recorded next to a raw preview (``<stack>.exitcode``), if any."""
    try:
        return int(path.with_suffix(".exitcode").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = path.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def _type_of(step: dict[str, Any]) -> str:
    for key in ("newState", "oldState"):
        state = step.get(key)
        if isinstance(state, dict) and isinstance(state.get("type"), str):
            return str(state["type"])
    parts = str(step.get("urn", "")).split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def _stack_of_urn(urn: str) -> str | None:
    m = re.match(r"urn:pulumi:([^:]+)::", urn)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Verified:
    """One stack's ``btp-infra verify`` result, as the CLI read it from a ``--json`` report."""

    stack: str
    status: str  # pass | warn | fail
    markdown: str


def aggregate(
    plan: Any | None,
    previews: Sequence[tuple[Path, Any]],
    *,
    offboard: Iterable[str] = (),
    verified: Iterable[Verified] = (),
) -> tuple[list[Tenant], list[Flag]]:
    """Tenants (sorted by name) and the flags (in tenant order) from the plan, preview and verify
    documents."""
    tenants: dict[str, Tenant] = {}
    flags: list[Flag] = []

    def get(stack: str) -> Tenant:
        return tenants.setdefault(stack, Tenant(stack))

    for v in verified:
        t = get(v.stack)
        t.verify, t.verify_section = v.status, v.markdown

    if isinstance(plan, dict):
        for entry in plan.get("stacks", []):
            t = get(str(entry.get("stack")))
            t.policy = str(entry.get("status"))
            for v in entry.get("violations", []):
                level = v.get("enforcementLevel")
                if level == "mandatory":
                    t.mandatory += 1
                else:
                    t.advisory += 1
                t.messages.append(f"{level}: {v.get('policy')}: {v.get('message')}")
            if entry.get("error"):
                err = entry["error"]
                t.errors.append(f"plan {err.get('kind')}: {err.get('message')}")
    for path, doc in previews:
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: not a preview document")
        if "steps" in doc:
            _raw_preview(path, doc, get, flags)
        elif "stacks" in doc and "operation" in doc:
            for entry in doc["stacks"]:
                t = get(str(entry.get("stack")))
                t.previewed = str(entry.get("result"))
                t.operation = str(doc.get("operation"))
                for kind, count in (entry.get("changes") or {}).items():
                    t.changes[kind] = int(count)
                if entry.get("error"):
                    t.errors.append(f"{doc.get('operation')}: {entry['error']}")
                if doc.get("operation") == "destroy":
                    t.offboard = True
            if doc.get("error") and not doc["stacks"]:  # nothing attempted: blame the file's stack
                t = get(path.stem.removeprefix("preview-"))
                t.previewed, t.operation = "failed", str(doc.get("operation"))
                t.errors.append(f"{doc.get('operation')} did not start: {doc['error']}")
        else:
            raise ValueError(f"{path}: neither btp-infra fleet JSON nor pulumi preview --json output")
    for stack in offboard:
        t = get(stack)
        t.offboard = True
        if t.operation == "preview":  # its raw document is the offboarding's `pulumi destroy --preview-only`
            t.operation = "destroy --preview-only"
    ordered = sorted(tenants.values(), key=lambda t: t.stack)
    for t in ordered:
        if t.offboard:
            flags.append(Flag(t.stack, "destroy", "the whole tenant", t.stack))
    order = {t.stack: i for i, t in enumerate(ordered)}
    flags.sort(key=lambda f: (order.get(f.stack, 0), f.op != "destroy", f.name))
    return ordered, flags


def _raw_preview(path: Path, doc: dict[str, Any], get: Callable[[str], Tenant], flags: list[Flag]) -> None:
    per_urn: dict[str, set[str]] = {}
    types: dict[str, str] = {}
    reasons_of: dict[str, set[str]] = {}  # property names only (diffReasons/replaceReasons), never values
    for step in doc.get("steps", []):
        urn = str(step.get("urn", ""))
        per_urn.setdefault(urn, set()).add(str(step.get("op", "same")))
        types[urn] = _type_of(step)
        for key in ("replaceReasons", "diffReasons"):
            names = step.get(key)
            if isinstance(names, list):
                reasons_of.setdefault(urn, set()).update(str(n) for n in names)
    stack = next((s for s in map(_stack_of_urn, per_urn) if s), None) or path.stem.removeprefix("preview-")
    t = get(stack)
    t.previewed = (
        "failed" if any(d.get("severity") == "error" for d in doc.get("diagnostics", [])) else "succeeded"
    )
    t.operation = "preview"
    for d in doc.get("diagnostics", []):
        if d.get("severity") == "error":
            t.errors.append(f"preview: {str(d.get('message', '')).strip()}")
    code = exit_code(path)
    if code:
        # `pulumi preview --json` leaves policy events out of its document (pkg/backend/display/json.go,
        # ShowPreviewDigest: "we don't handle policy events in JSON serialization"): a mandatory violation
        # shows only as the exit status; the plan column carries the pack's verdicts.
        t.previewed = "failed"
        t.errors.append(
            f"pulumi {t.operation} exited {code} (an error or a mandatory policy violation; the JSON output "
            "has no policy results: see the job log and the policy column)"
        )
        t.errors.extend(f"  {line}" for line in _log_tail(path))
    for urn, ops in per_urn.items():
        if types[urn] == "pulumi:pulumi:Stack":
            continue
        if ops & _REPLACE_OPS:
            kind = "replace"
        elif ops & _DELETE_OPS:
            kind = "delete"
        elif ops & _CREATE_OPS:
            kind = "create"
        elif "update" in ops:
            kind = "update"
        else:
            kind = "same"
        t.changes[kind] = t.changes.get(kind, 0) + 1
        if kind != "same":
            reasons = sorted(reasons_of.get(urn, set()))
            because = f" ({', '.join(reasons)})" if reasons else ""
            t.steps.append(f"{kind} {types[urn]} {urn.rsplit('::', 1)[-1]}{because}")
        if kind in ("replace", "delete") and types[urn] in SENSITIVE_TYPES:
            flags.append(Flag(stack, kind, SENSITIVE_TYPES[types[urn]], urn.rsplit("::", 1)[-1]))


@dataclass(frozen=True)
class Block:
    """A piece of markdown that is shown whole or not at all; ``kind`` names it in the trim note."""

    text: str
    kind: str = ""


def fence(text: str, lang: str = "") -> str:
    """``text`` in a code fence longer than any backtick run inside it (so it cannot be closed early)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def policy_cell(t: Tenant) -> str:
    if t.policy is None:
        return "—"
    icon = {"passed": "✅", "advisory": "⚠️", "failed": "❌", "invalid-config": "❌", "error": "❌"}.get(
        t.policy, ""
    )
    counts = []
    if t.mandatory:
        counts.append(f"{t.mandatory} mandatory")
    if t.advisory:
        counts.append(f"{t.advisory} advisory")
    return f"{icon} {t.policy}" + (f" ({', '.join(counts)})" if counts else "")


def preview_cell(t: Tenant) -> str:
    if t.previewed is None:
        return "not run"
    icon = {"succeeded": "✅", "failed": "❌", "refused": "⛔"}.get(t.previewed, "")
    label = t.previewed if t.operation in (None, "preview") else f"{t.operation} {t.previewed}"
    return f"{icon} {label}"


TABLE_HEAD: Final = (
    "| tenant | create | update | replace | delete | preview | policy |\n|---|---:|---:|---:|---:|---|---|\n"
)


def tenant_row(t: Tenant) -> str:
    c = t.changes
    counts = " | ".join(
        (f"**{c.get(k, 0)}**" if k in ("replace", "delete") and c.get(k, 0) else str(c.get(k, 0)))
        if t.previewed is not None
        else "—"
        for k in ("create", "update", "replace", "delete")
    )
    name = f"`{_cell(t.stack)}`" + (" (offboarding)" if t.offboard else "")
    return f"| {name} | {counts} | {_cell(preview_cell(t))} | {_cell(policy_cell(t))} |\n"


def details_block(t: Tenant, redact: Callable[[str], str], max_chars: int = 8000) -> str | None:
    findings = [*t.errors, *t.messages]
    lines = findings + (["changes:", *(f"  {s}" for s in t.steps)] if t.steps else [])
    if not lines:
        return None
    text = redact("\n".join(lines))
    if len(text) > max_chars:  # cut the redacted text (a cut cannot make a secret appear)
        text = text[:max_chars].rsplit("\n", 1)[0] + f"\n… ({len(text) - max_chars} more characters cut)"
    counts = [f"{len(findings)} finding(s)"] if findings else []
    counts += [f"{len(t.steps)} change(s)"] if t.steps else []
    summary = f"<summary><code>{_cell(t.stack)}</code>: {', '.join(counts)}</summary>"
    return f"<details>{summary}\n\n{fence(text)}\n</details>\n"


def verify_block(t: Tenant, redact: Callable[[str], str]) -> str | None:
    """The tenant's verify section (checks with reasons and fixes), redacted; ``None`` when not verified."""
    return redact(t.verify_section).rstrip("\n") + "\n\n" if t.verify_section else None


def fit(
    blocks: Sequence[Block], limit: int, note: Callable[[dict[str, int]], str]
) -> tuple[str, dict[str, int]]:
    """The blocks in order while they fit under ``limit`` characters with the trim note; a block that does not
    fit is left out whole (and so is every later block of the same kind, to keep the order meaningful)."""
    omitted: dict[str, int] = {}
    out: list[str] = []
    used = 0
    reserve = len(note({"x" * 40: 10**9, "y" * 40: 10**9, "z" * 40: 10**9}))
    for block in blocks:
        if block.kind in omitted or used + len(block.text) + reserve > limit:
            omitted[block.kind] = omitted.get(block.kind, 0) + 1
            continue
        out.append(block.text)
        used += len(block.text)
    if omitted:
        out.append(note(omitted))
    return "".join(out), omitted
