"""Which tenant stacks a change touches, from ``git diff --name-status -M base...head``.

Rules, first match wins, per changed path (a rename counts for both its old and its new path):

1. ``<stacks-dir>/Pulumi.<s>.yaml`` (also ``.yml``) added, modified, copied or renamed to → stack ``s``;
   deleted or renamed away → ``s`` is offboarded (its tenant destroyed), unless it still exists on head.
2. Documentation and tooling that no stack deploys → nothing: ``*.md`` / ``*.rst`` / ``*.txt`` docs anywhere
   (except ``requirements*.txt``), ``docs/``, ``benchmarks/``, ``tests/``, ``examples/``, ``.github/``,
   the rest of ``<stacks-dir>/``, ``btp_infra/ci/``, ``btp_infra/sandbox/``, ``btp_infra/testing/``,
   ``Makefile``, ``LICENSE*``, ``.gitignore``, ``.ci/``.
3. The program and what it is made of → every stack on head: ``btp_infra/**``, ``__main__.py``,
   ``Pulumi.yaml``, ``requirements*.txt``, ``pyproject.toml``, ``setup.py``, ``setup.cfg``, ``policies/**``.
4. Anything else → every stack (unknown paths are treated as shared code: a preview too many is cheap, a
   missed one is not).

A base of all zeros (GitHub's ``before`` of a push that created the branch) → every stack on head.

``production``: the affected and offboarded tenants whose stack file, on ``base`` or on ``head``, carries the
tenant label ``environment: production`` (``btp-infra:labels``) — read from both commits, so a change that
removes the label still needs the production approval; a file that cannot be read as YAML counts as
production (the approval is the safe side).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final

import yaml

from btp_infra.config.yamltext import load_yaml_text
from btp_infra.conventions import LABEL_ENVIRONMENT, PRODUCTION_ENVIRONMENT, config_key

__all__ = [
    "Affected",
    "Change",
    "GitError",
    "affected",
    "classify",
    "git_changes",
    "is_production",
    "parse_name_status",
    "production_stacks",
]

_IGNORED_DIRS: Final = (
    "docs/",
    "benchmarks/",
    "tests/",
    "examples/",
    ".github/",
    ".ci/",
    "btp_infra/ci/",
    "btp_infra/sandbox/",
    "btp_infra/testing/",
)
_IGNORED_FILES: Final = frozenset({"Makefile", ".gitignore", ".gitattributes", ".editorconfig"})
_SHARED_FILES: Final = frozenset({"__main__.py", "Pulumi.yaml", "pyproject.toml", "setup.py", "setup.cfg"})
_SHARED_DIRS: Final = ("btp_infra/", "policies/")
_DOC_SUFFIXES: Final = (".md", ".rst", ".txt")
_STACK_FILE: Final = re.compile(r"Pulumi\.(?P<stack>[^/]+)\.ya?ml")


class GitError(RuntimeError):
    """A git command failed (unknown ref, not a repository)."""


@dataclass(frozen=True)
class Change:
    """One line of ``git diff --name-status``: ``status`` is the letter (A, M, D, R, C, T...)."""

    status: str
    path: str
    old_path: str | None = None


@dataclass
class Affected:
    """The decision: stacks to preview/deploy, tenants to offboard, and why."""

    stacks: list[str] = field(default_factory=list)
    offboard: list[str] = field(default_factory=list)
    production: list[str] = field(default_factory=list)
    all: bool = False
    reasons: dict[str, list[str]] = field(default_factory=dict)
    shared: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "stacks": self.stacks,
            "offboard": self.offboard,
            "production": self.production,
            "all": self.all,
            "reasons": self.reasons,
            "shared": self.shared,
            "ignored": self.ignored,
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    def github_output(self) -> str:
        """``key=value`` lines for ``$GITHUB_OUTPUT`` (compact JSON: one line each)."""
        return (
            f"stacks={json.dumps(self.stacks, separators=(',', ':'))}\n"
            f"offboard={json.dumps(self.offboard, separators=(',', ':'))}\n"
            f"production={json.dumps(self.production, separators=(',', ':'))}\n"
            f"all={'true' if self.all else 'false'}\n"
            f"any={'true' if self.stacks or self.offboard else 'false'}\n"
        )

    def text(self) -> str:
        lines = [
            f"stacks: {', '.join(self.stacks) or '-'}",
            f"offboard: {', '.join(self.offboard) or '-'}",
            f"production: {', '.join(self.production) or '-'}",
        ]
        if self.all:
            lines.append(
                f"all stacks: shared change ({', '.join(self.shared[:5])}"
                f"{' ...' if len(self.shared) > 5 else ''})"
            )
        for name, why in self.reasons.items():
            lines.append(f"  {name}: {'; '.join(why)}")
        return "\n".join(lines) + "\n"


def parse_name_status(output: str) -> list[Change]:
    """``git diff --name-status -z`` output: ``X\\0path\\0`` or ``R100\\0old\\0new\\0``."""
    fields = output.split("\0")
    changes: list[Change] = []
    i = 0
    while i < len(fields):
        status = fields[i]
        if not status:
            i += 1
            continue
        letter = status[0]
        if letter in "RC":
            changes.append(Change(letter, fields[i + 2], fields[i + 1]))
            i += 3
        else:
            changes.append(Change(letter, fields[i + 1]))
            i += 2
    return changes


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 (fixed git arguments, no shell)
            ["git", *args],  # noqa: S607 (git from PATH, as the workflows have it)
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            encoding="utf-8",
        )
    except OSError as err:
        raise GitError(f"git not runnable: {err}") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.strip() or f'exit code {done.returncode}'}")
    return done.stdout


def git_changes(repo: Path, base: str, head: str = "HEAD") -> list[Change]:
    """The changes of ``head`` since its merge base with ``base`` (renames detected)."""
    return parse_name_status(_git(repo, "diff", "--name-status", "-M", "-z", f"{base}...{head}", "--"))


def stacks_at(repo: Path, ref: str, stacks_dir: str = "stacks") -> list[str]:
    """The stack names whose files exist at ``ref``."""
    out = _git(repo, "ls-tree", "-r", "--name-only", "-z", ref, "--", stacks_dir.rstrip("/") + "/")
    names = {_stack_of(p, stacks_dir) for p in out.split("\0") if p}
    return sorted(n for n in names if n)


def _stack_of(path: str, stacks_dir: str) -> str | None:
    p = PurePosixPath(path)
    if str(p.parent) != str(PurePosixPath(stacks_dir)):
        return None
    m = _STACK_FILE.fullmatch(p.name)
    return m.group("stack") if m else None


def _kind(path: str, stacks_dir: str) -> str:
    """``ignored`` or ``shared`` for a path that is not a stack file."""
    name = PurePosixPath(path).name
    lower = name.lower()
    if lower.startswith("requirements") and lower.endswith(".txt"):
        return "shared"
    if path in _SHARED_FILES:
        return "shared"
    if any(path.startswith(d) for d in _IGNORED_DIRS) or path.startswith(stacks_dir.rstrip("/") + "/"):
        return "ignored"
    if lower.endswith(_DOC_SUFFIXES) or name in _IGNORED_FILES or lower.startswith("license"):
        return "ignored"
    if any(path.startswith(d) for d in _SHARED_DIRS):
        return "shared"
    return "shared"  # unknown: conservative


def classify(
    changes: Iterable[Change], *, head_stacks: Sequence[str], stacks_dir: str = "stacks"
) -> Affected:
    """Apply the module's rules; ``head_stacks``: the stacks that exist on head (for "all")."""
    result = Affected()
    touched: dict[str, list[str]] = {}
    gone: dict[str, list[str]] = {}
    head_set = set(head_stacks)

    def note(target: dict[str, list[str]], stack: str, why: str) -> None:
        target.setdefault(stack, []).append(why)

    for change in changes:
        new_stack = _stack_of(change.path, stacks_dir)
        old_stack = _stack_of(change.old_path, stacks_dir) if change.old_path else None
        if change.status in "RC" and change.old_path is not None:
            if change.status == "R" and old_stack and old_stack != new_stack:
                note(gone, old_stack, f"{change.old_path} renamed to {change.path}")
            elif change.status == "R" and old_stack is None:
                _other(result, change.old_path, stacks_dir)
            if new_stack:
                verb = "renamed from" if change.status == "R" else "copied from"
                note(touched, new_stack, f"{change.path} {verb} {change.old_path}")
            else:
                _other(result, change.path, stacks_dir)
            continue
        if new_stack:
            if change.status == "D":
                note(gone, new_stack, f"{change.path} deleted")
            else:
                verb = {"A": "added", "M": "modified", "T": "type changed"}.get(change.status, "changed")
                note(touched, new_stack, f"{change.path} {verb}")
            continue
        _other(result, change.path, stacks_dir)

    stacks = set(touched)
    if result.shared:
        result.all = True
        first = result.shared[0]
        more = f" (+{len(result.shared) - 1} more)" if len(result.shared) > 1 else ""
        for stack in head_set:
            touched.setdefault(stack, []).append(f"shared change: {first}{more}")
        stacks |= head_set
    # A stack file deleted here but present on head again (re-added under the same name) is not offboarded.
    offboard = {s for s in gone if s not in head_set and s not in stacks}
    stacks &= head_set if head_set else stacks
    result.stacks = sorted(stacks)
    result.offboard = sorted(offboard)
    result.reasons = {s: touched[s] for s in result.stacks} | {s: gone[s] for s in result.offboard}
    result.reasons = dict(sorted(result.reasons.items()))
    return result


def _other(result: Affected, path: str, stacks_dir: str) -> None:
    (result.shared if _kind(path, stacks_dir) == "shared" else result.ignored).append(path)


def is_production(text: str) -> bool:
    """Whether a stack file's text labels its tenant ``environment: production`` (unreadable: yes)."""
    try:
        doc = load_yaml_text(text)
    except yaml.YAMLError:
        return True
    config = doc.get("config") if isinstance(doc, dict) else None
    labels = config.get(config_key("labels")) if isinstance(config, dict) else None
    return isinstance(labels, dict) and labels.get(LABEL_ENVIRONMENT) == PRODUCTION_ENVIRONMENT


def _file_at(repo: Path, ref: str, path: str) -> str | None:
    try:
        return _git(repo, "show", f"{ref}:{path}")
    except GitError:  # not there at that commit (a new or a deleted stack)
        return None


def production_stacks(
    repo: Path, refs: Sequence[str], stacks: Iterable[str], stacks_dir: str = "stacks"
) -> list[str]:
    """The ``stacks`` whose file is production (:func:`is_production`) at any of ``refs``."""
    found: list[str] = []
    for stack in sorted(set(stacks)):
        for ref in refs:
            texts = (
                _file_at(repo, ref, f"{stacks_dir.rstrip('/')}/Pulumi.{stack}.{ext}")
                for ext in ("yaml", "yml")
            )
            if any(text is not None and is_production(text) for text in texts):
                found.append(stack)
                break
    return found


def affected(repo: Path, base: str, head: str = "HEAD", stacks_dir: str = "stacks") -> Affected:
    """:func:`classify` over the git changes between ``base`` and ``head`` of ``repo``, with the
    production tenants among them."""
    if re.fullmatch(r"0+", base):  # a push that created the branch: no previous commit to compare with
        stacks = stacks_at(repo, head, stacks_dir)
        why = f"no base commit ({base[:12]}...): every stack"
        result = Affected(stacks=stacks, all=True, reasons={s: [why] for s in stacks}, shared=["(no base)"])
        result.production = production_stacks(repo, [head], stacks, stacks_dir)
        return result
    changes = git_changes(repo, base, head)
    result = classify(changes, head_stacks=stacks_at(repo, head, stacks_dir), stacks_dir=stacks_dir)
    # The merge base, not base itself: what the change started from (base may have moved on since).
    start = _git(repo, "merge-base", base, head).strip() or base
    result.production = production_stacks(repo, [start, head], [*result.stacks, *result.offboard], stacks_dir)
    return result
