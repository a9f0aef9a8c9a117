"""``btp-infra validate``: every stack file and the cross-stack rules, offline, with the line of each problem.

Owns: the validation report of a stacks directory (:func:`validate`: each file through the real loader, then
:func:`btp_infra.config.validate_fleet` over the files that load, plus one stack name per file), finding the
line and column of an issue's key from the YAML node marks (:func:`locate`), and the report's formats: text,
JSON and GitHub workflow commands (``::error file=…,line=…,col=…,title=…::…``). No network, no Pulumi.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import yaml

from btp_infra.config import (
    MAX_STACK_FILE_BYTES,
    ConfigError,
    ConfigIssue,
    TenantConfig,
    discover_stacks,
    load_stack_file,
    stack_file_for,
    stack_name_of,
    validate_fleet,
)
from btp_infra.conventions import CONFIG_NAMESPACE

__all__ = [
    "FORMATS",
    "Finding",
    "StackResult",
    "ValidationReport",
    "escape_data",
    "escape_property",
    "format_github",
    "format_json",
    "format_report",
    "format_text",
    "locate",
    "validate",
]

FORMATS: Final = ("text", "json", "github")
"""The output formats of :func:`format_report`."""
Format = Literal["text", "json", "github"]
Scope = Literal["stack", "fleet"]

_NO_VALUE: Final = ConfigIssue("", "").value
_LINE_IN_MESSAGE: Final = re.compile(r"\(?\bline (\d+), column (\d+)")
_KEY_HEAD: Final = re.compile(r"[.\[]")
_TOKEN: Final = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]")


# ---- the report ---------------------------------------------------------------------------------


def _json_value(issue: ConfigIssue) -> object:
    value = issue.value
    if issue.secret:
        return "[secret]"
    if value is _NO_VALUE:
        return None
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return str(value)
    return value


@dataclass(frozen=True)
class Finding:
    """One issue, where it is: the stack file, and the 1-based line and column of its key (None: unknown)."""

    issue: ConfigIssue
    file: str
    line: int | None
    column: int | None
    scope: Scope
    """``stack``: the file on its own; ``fleet``: a rule across stacks (the message names the other file)."""

    @property
    def key(self) -> str:
        """``btp-infra:<key>`` (or the key as given when it names another namespace); ``""`` for the file."""
        return self.issue.qualified_key

    @property
    def text(self) -> str:
        """The issue without its file name: ``btp-infra:<key>: <value> — <problem>; valid: <valid>``."""
        return self.issue.render().removeprefix(f"{self.issue.source}: ")

    def as_dict(self) -> dict[str, object]:
        """JSON-compatible: the value as the issue holds it (``[secret]`` for a secret, None for none)."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key": self.key,
            "value": _json_value(self.issue),
            "secret": self.issue.secret,
            "message": self.issue.message,
            "valid": self.issue.valid,
            "scope": self.scope,
            "text": self.issue.render(),
        }


@dataclass(frozen=True)
class StackResult:
    """One stack file: its config when it loads, and its findings (its own and the fleet's)."""

    stack: str
    file: str
    config: TenantConfig | None
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class ValidationReport:
    """Every stack file of a directory, and every finding in file order."""

    directory: str
    stacks: tuple[StackResult, ...]
    findings: tuple[Finding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        """0: every stack file is valid and no two conflict; 1 otherwise."""
        return 0 if self.ok else 1

    def summary(self) -> str:
        """One line: how many stack files, how many invalid, how many problems."""
        count = len(self.stacks)
        files = f"{count} stack file{'s' if count != 1 else ''}"
        if self.ok:
            return f"{files} in {self.directory}: valid"
        bad = sum(1 for s in self.stacks if not s.ok)
        problems = len(self.findings)
        return f"{files} in {self.directory}: {bad} invalid, {problems} problem{'s' if problems != 1 else ''}"


# ---- finding the line of a key ------------------------------------------------------------------


def _read_small(path: Path) -> str | None:
    """The text of a regular file within the stack file limit, else None (the loader has said why). Opened
    without blocking, so a FIFO put in its place since is not waited for."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_STACK_FILE_BYTES:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(MAX_STACK_FILE_BYTES + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


@dataclass
class _Tree:
    """A stack file's YAML nodes (not constructed: no alias is expanded), or where it fails to parse."""

    root: yaml.Node | None
    error_mark: yaml.Mark | None


def _compose(text: str | None) -> _Tree:
    if text is None:
        return _Tree(None, None)
    try:
        return _Tree(yaml.compose(text, Loader=yaml.SafeLoader), None)
    except yaml.MarkedYAMLError as exc:
        return _Tree(None, exc.problem_mark)
    except (yaml.YAMLError, RecursionError, ValueError):
        return _Tree(None, None)


def _entry(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The ``(key node, value node)`` of ``key`` in a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _path_of(key: str) -> tuple[str, list[str | int]]:
    """``entitlements[1].amount`` → (``btp-infra:entitlements``, [1, "amount"]); as rendered by the model."""
    head = _KEY_HEAD.split(key, maxsplit=1)[0]
    rest = key[len(head) :]
    qualified = head if ":" in head else f"{CONFIG_NAMESPACE}:{head}"
    tokens: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _TOKEN.match(rest, position)
        if match is None:
            break
        name, index, quoted = match.groups()
        if name is not None:
            tokens.append(name)
        elif index is not None:
            tokens.append(int(index))
        else:
            try:
                tokens.append(str(json.loads(quoted)))
            except ValueError:
                break
        position = match.end()
    return qualified, tokens


def _mark_of(tree: _Tree, key: str) -> yaml.Mark | None:
    """The mark of ``key``'s deepest node found (a mapping key's own node; a list item), or of ``config:``."""
    top = _entry(tree.root, "config")
    if top is None:
        return tree.error_mark
    mark: yaml.Mark = top[0].start_mark
    if not key:
        return mark
    qualified, tokens = _path_of(key)
    found = _entry(top[1], qualified)
    if found is None:
        return mark
    mark, node = found[0].start_mark, found[1]
    for token in tokens:
        if isinstance(token, int):
            if not isinstance(node, yaml.SequenceNode) or token >= len(node.value):
                break
            node = node.value[token]
            mark = node.start_mark
        else:
            entry = _entry(node, token)
            if entry is None:
                break
            mark, node = entry[0].start_mark, entry[1]
    return mark


def locate(path: str | Path, keys: Iterable[str]) -> dict[str, tuple[int, int] | None]:
    """The 1-based ``(line, column)`` of each issue key (``ConfigIssue.key``) in the stack file at ``path``.

    A key that is not in the file (a required key missing) is placed at ``config:``; ``""`` (the file as a
    whole) at the parse error when the YAML is invalid, else at ``config:``. None when the file cannot be read
    or parsed at all."""
    tree = _compose(_read_small(Path(path)))
    result: dict[str, tuple[int, int] | None] = {}
    for key in keys:
        mark = _mark_of(tree, key)
        result[key] = None if mark is None else (mark.line + 1, mark.column + 1)
    return result


def _position(issue: ConfigIssue, where: Mapping[str, tuple[int, int] | None]) -> tuple[int, int] | None:
    if not issue.key:
        match = _LINE_IN_MESSAGE.search(issue.message)
        if match:  # the loader's own position (invalid YAML, a limit) is the most precise
            return int(match.group(1)), int(match.group(2))
    found = where.get(issue.key)
    return found if found is not None else (1, 1)


# ---- validate -----------------------------------------------------------------------------------


def _duplicate_names(paths: list[Path]) -> list[ConfigIssue]:
    """A stack with two files (``Pulumi.x.yaml`` and ``Pulumi.x.yml``): Pulumi reads only one of them."""
    seen: dict[str, Path] = {}
    issues: list[ConfigIssue] = []
    for path in paths:
        name = stack_name_of(path)
        if name in seen:
            issues.append(
                ConfigIssue(
                    str(path),
                    "",
                    message=f"is a second stack file of stack {name!r} (also {seen[name]})",
                    valid="one stack file per stack: remove one of them",
                )
            )
        else:
            seen[name] = path
    return issues


def validate(stacks_dir: str | Path) -> ValidationReport:
    """Check every stack file in ``stacks_dir`` (or the ``stackConfigDir`` of the project there) offline.

    Each file goes through :func:`~btp_infra.config.load_stack_file`; the files that load are checked together
    by :func:`~btp_infra.config.validate_fleet` (a namespace once per cluster, a subaccount once anywhere, no
    tenant namespace that is another stack's management namespace); a stack may have one file only. Every
    finding carries the line and column of its key. Never raises for the content of a file; raises
    :class:`~btp_infra.config.ConfigError` when the stacks directory does not exist (a typo must not pass)."""
    directory = stack_file_for("-", stacks_dir).parent
    if not directory.is_dir():
        raise ConfigError(
            [
                ConfigIssue(
                    str(directory),
                    "",
                    message="is not a directory",
                    valid="an existing stacks directory (stackConfigDir of Pulumi.yaml)",
                )
            ]
        )
    paths = discover_stacks(stacks_dir)
    own: dict[str, list[ConfigIssue]] = {str(p): [] for p in paths}
    configs: dict[str, TenantConfig] = {}
    for path in paths:
        try:
            configs[str(path)] = load_stack_file(path)
        except ConfigError as exc:
            own[str(path)].extend(exc.issues)
    for issue in _duplicate_names(paths):
        own[issue.source].append(issue)
    fleet: dict[str, list[ConfigIssue]] = {str(p): [] for p in paths}
    for issue in validate_fleet(configs):
        fleet.setdefault(issue.source, []).append(issue)
    stacks: list[StackResult] = []
    every: list[Finding] = []
    for path in paths:
        name = str(path)
        scoped: list[tuple[ConfigIssue, Scope]] = [(i, "stack") for i in own[name]]
        scoped += [(i, "fleet") for i in fleet.get(name, [])]
        where = locate(path, {i.key for i, _ in scoped}) if scoped else {}
        findings = []
        for issue, scope in scoped:
            position = _position(issue, where)
            line, column = position if position is not None else (None, None)
            findings.append(Finding(issue, name, line, column, scope))
        findings.sort(key=lambda f: (f.line or 0, f.column or 0))
        stacks.append(StackResult(stack_name_of(path), name, configs.get(name), tuple(findings)))
        every.extend(findings)
    return ValidationReport(str(stacks_dir), tuple(stacks), tuple(every))


# ---- formats ------------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A GitHub workflow command's message: ``%``, ``\\r`` and ``\\n`` escaped (actions/toolkit)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A GitHub workflow command's property value: also ``:`` and ``,`` escaped (actions/toolkit)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _relative(file: str, root: str | Path | None) -> str:
    if root is None:
        return file
    try:
        return Path(file).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return file


def format_github(report: ValidationReport, *, root: str | Path | None = None) -> str:
    """One ``::error file=<path>,line=<n>,col=<c>,title=<key>::<message>`` line per finding ("" when valid).

    ``root``: make file paths relative to it (the repository root, ``$GITHUB_WORKSPACE``), as GitHub needs
    them to put an annotation on a pull request's line."""
    lines = []
    for finding in report.findings:
        properties = [f"file={escape_property(_relative(finding.file, root))}"]
        if finding.line is not None:
            properties.append(f"line={finding.line}")
        if finding.column is not None:
            properties.append(f"col={finding.column}")
        properties.append(f"title={escape_property(finding.key or 'stack file')}")
        lines.append(f"::error {','.join(properties)}::{escape_data(finding.text)}")
    return "".join(line + "\n" for line in lines)


def format_text(report: ValidationReport) -> str:
    """One line per finding (``<file>: btp-infra:<key>: <value> — <problem>; valid: …``), then a summary."""
    lines = [finding.issue.render() for finding in report.findings]
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def format_json(report: ValidationReport) -> str:
    """The report as JSON: ``ok``, ``summary``, ``stacks`` (stack, file, ok, problems) and ``findings``."""
    document = {
        "ok": report.ok,
        "summary": {
            "directory": report.directory,
            "stacks": len(report.stacks),
            "invalid": sum(1 for s in report.stacks if not s.ok),
            "problems": len(report.findings),
        },
        "stacks": [
            {"stack": s.stack, "file": s.file, "ok": s.ok, "problems": len(s.findings)} for s in report.stacks
        ],
        "findings": [finding.as_dict() for finding in report.findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"


def format_report(report: ValidationReport, fmt: str = "text", *, root: str | Path | None = None) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`); :class:`ValueError` for another format."""
    if fmt == "text":
        return format_text(report)
    if fmt == "json":
        return format_json(report)
    if fmt == "github":
        return format_github(report, root=root)
    raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
