"""Fleet runs: ``preview``, ``up``, ``refresh`` or ``destroy`` over many tenant stacks via the Automation API.

:func:`run_fleet` checks everything that needs no engine first (operation, stacks, ``destroy`` confirmed, the
Pulumi CLI and its version, backend, passphrase), installs the project's dependencies once (``pulumi
install``), then runs one :class:`~pulumi.automation.LocalWorkspace` per stack (``work_dir`` = the project, so
Pulumi reads ``stacks/Pulumi.<stack>.yaml`` through ``stackConfigDir``) in a pool of at most ``parallel``
threads. One stack failing never stops another. Progress goes to ``on_progress`` (any thread) and, with a
``console``, to a live table; the outcome is a :class:`FleetResult` (its :meth:`FleetResult.to_json` shape is
documented in :mod:`btp_infra.automation.model`).

Exit codes (:attr:`FleetResult.exit_code`): ``0`` every stack succeeded (or none was selected); ``1`` some
stack failed or was refused, or the dependency install failed; ``2`` nothing was attempted (no or too old
Pulumi CLI, unknown stack, ``destroy`` without ``yes``, no passphrase, bad ``parallel``).

``destroy`` refuses, before deleting anything, a stack whose file sets ``btp-infra:protect: true`` or whose
state holds protected resources: the engine checks ``protect`` only when it reaches the delete step, after it
has deleted everything that depends on the protected resources (a partial destroy).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, get_args

from pulumi.automation import LocalWorkspace, Stack
from pulumi.automation.errors import CommandError, StackNotFoundError
from pulumi.automation.events import EngineEvent, OpType

from btp_infra.automation.environment import (
    ENV_PASSPHRASE,
    PASSPHRASE_PROVIDER,
    Backend,
    Passphrase,
    resolve_backend,
    resolve_passphrase,
)
from btp_infra.automation.hooks import HookContext, StackFailed, StackHooks, StackRefused
from btp_infra.automation.model import (
    CHANGE_KINDS,
    FleetResult,
    Phase,
    ProgressUpdate,
    StackOutcome,
    StackResultKind,
    StackTarget,
)
from btp_infra.automation.pulumi_cli import FleetSetupError, PulumiCli, find_pulumi_cli, read_yaml_mapping
from btp_infra.automation.report import FleetDisplay, print_error, print_summary
from btp_infra.config import TenantConfig, discover_stacks, load_stack_file, stack_name_of
from btp_infra.conventions import config_key
from btp_infra.credentials import ENV_KEY

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "CHANGE_KINDS",
    "DEFAULT_PARALLEL",
    "OPERATIONS",
    "FleetResult",
    "FleetSetupError",
    "Operation",
    "ProgressUpdate",
    "StackOutcome",
    "StackResultKind",
    "StackTarget",
    "all_stacks",
    "resolve_targets",
    "run_fleet",
]

Operation = Literal["preview", "up", "refresh", "destroy"]
OPERATIONS: Final[tuple[str, ...]] = get_args(Operation)
PROTECT_KEY: Final = config_key("protect")
DEFAULT_PARALLEL: Final = 4

_TAG_RE: Final = re.compile(r"<\{%[^%]*%\}>|\x1b\[[0-9;?]*[A-Za-z]")  # Pulumi colour tags, ANSI escapes
_MAX_ERROR_LINE: Final = 300
_SECRET_WORDS: Final = ("secret", "password", "key", "certificate", "token")


# ---- selecting stacks ------------------------------------------------------------------------------


def all_stacks(project_dir: str | Path = ".") -> list[str]:
    """The names of every stack file in the project's ``stackConfigDir`` (``--all``), sorted."""
    return [stack_name_of(p) for p in discover_stacks(project_dir)]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        stripped = _TAG_RE.sub("", line).strip()
        if stripped:
            return stripped[:_MAX_ERROR_LINE]
    return ""


def _target(name: str, path: Path) -> StackTarget:
    raw = read_yaml_mapping(path)
    provider = raw.get("secretsprovider")
    secrets_provider = (
        provider.strip() if isinstance(provider, str) and provider.strip() else PASSPHRASE_PROVIDER
    )
    try:
        config: TenantConfig = load_stack_file(path)
    except Exception as exc:  # ConfigError (one line per issue) or any reading failure
        return StackTarget(name, path, secrets_provider, None, _first_line(str(exc)) or type(exc).__name__)
    return StackTarget(name, path, secrets_provider, config.effective_protect)


def resolve_targets(stacks: Sequence[str], project_dir: str | Path = ".") -> list[StackTarget]:
    """The selected stacks in the order given (duplicates once); :class:`FleetSetupError` naming the
    known stacks when one has no stack file."""
    files = {stack_name_of(p): p for p in discover_stacks(project_dir)}
    targets: list[StackTarget] = []
    seen: set[str] = set()
    for name in stacks:
        short = name.rsplit("/", 1)[-1]
        if name in seen:
            continue
        seen.add(name)
        path = files.get(short)
        if path is None:
            known = ", ".join(sorted(files)) or "none"
            raise FleetSetupError(
                f"no stack file for stack {name!r} (Pulumi.{short}.yaml; known stacks: {known})"
            )
        targets.append(_target(name, path))
    return targets


# ---- one stack -------------------------------------------------------------------------------------


def _secret_values(environ: Mapping[str, str]) -> list[str]:
    """Secrets a Pulumi process may echo back: the passphrase and the cis key (the whole JSON and its
    credential fields)."""
    values = [environ.get(ENV_PASSPHRASE, "")]
    raw_key = environ.get(ENV_KEY, "")
    values.append(raw_key)
    try:
        document = json.loads(raw_key) if raw_key.strip() else None
    except ValueError:
        document = None
    stack: list[object] = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and any(w in str(key).lower() for w in _SECRET_WORDS):
                    values.append(value)
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return values


def _redactor(secrets: Sequence[str]) -> Callable[[str], str]:
    values = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, "[secret]")
        return text

    return redact


def _resource_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if "::" in urn else urn


class _StackRun:
    """Events of one stack's engine run: current step, change counts, first error line."""

    def __init__(self, name: str, report: Callable[[str, Phase, str | None], None]) -> None:
        self.name = name
        self._report = report
        self._lock = threading.Lock()
        self.summary: dict[str, int] | None = None
        self.counted: dict[str, int] = {}
        self.error: str | None = None

    def on_event(self, event: EngineEvent) -> None:
        step: str | None = None
        with self._lock:
            if event.resource_pre_event is not None:
                meta = event.resource_pre_event.metadata
                if meta.type != "pulumi:pulumi:Stack":
                    step = f"{_op_text(meta.op)} {_resource_name(meta.urn)}"
            elif event.res_outputs_event is not None:
                meta = event.res_outputs_event.metadata
                if meta.type != "pulumi:pulumi:Stack":
                    kind = _op_text(meta.op)
                    self.counted[kind] = self.counted.get(kind, 0) + 1
            elif event.res_op_failed_event is not None:
                meta = event.res_op_failed_event.metadata
                step = f"failed {_op_text(meta.op)} {_resource_name(meta.urn)}"
            elif event.diagnostic_event is not None:
                diag = event.diagnostic_event
                if diag.severity == "error" and self.error is None:
                    line = _first_line(diag.message)
                    if line:
                        self.error = line
            elif event.summary_event is not None:
                self.summary = {
                    str(_op_text(k)): int(v) for k, v in event.summary_event.resource_changes.items()
                }
        if step is not None:
            self._report(self.name, "running", step)

    def changes(self) -> dict[str, int]:
        with self._lock:
            found = dict(self.summary if self.summary is not None else self.counted)
        ordered = {kind: found.pop(kind, 0) for kind in CHANGE_KINDS}
        return {**ordered, **dict(sorted(found.items()))}


def _op_text(op: object) -> str:
    return op.value if isinstance(op, OpType) else str(op)


def _command_error_line(exc: CommandError) -> str:
    """The first meaningful line of a failed command: its stderr, else its stdout (``str(exc)`` is
    ``code: N / stdout: ... / stderr: ...``)."""
    text = str(exc)
    _, _, stderr = text.partition("\n stderr: ")
    stdout = text.partition("\n stdout: ")[2].partition("\n stderr: ")[0]
    for candidate in (stderr, stdout):
        for line in candidate.splitlines():
            stripped = _TAG_RE.sub("", line).strip()
            if stripped and not stripped.startswith("warning:"):
                return stripped[:_MAX_ERROR_LINE]
    return f"pulumi exited with an error ({type(exc).__name__})"


def _protected_in_state(workspace: LocalWorkspace, stack: str) -> list[str]:
    """URNs of protected resources in the stack's state (``stack export`` without ``--show-secrets``:
    secrets stay ciphertext)."""
    result = workspace.pulumi_command.run(
        ["stack", "export", "--stack", stack], workspace.work_dir, dict(workspace.env_vars)
    )
    try:
        document = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        raise RuntimeError("`pulumi stack export` did not print JSON") from None
    deployment = document.get("deployment") if isinstance(document, dict) else None
    resources = deployment.get("resources") if isinstance(deployment, dict) else None
    if not isinstance(resources, list):
        return []
    return [str(r.get("urn", "?")) for r in resources if isinstance(r, dict) and r.get("protect") is True]


def _lift_hint(target: StackTarget) -> str:
    return (
        f"to destroy it, set {PROTECT_KEY}: false in {target.stack_file}, run `btp-infra up --stack "
        f"{target.name}` (which lifts the protection in the state), then destroy"
    )


@dataclass
class _Context:
    operation: Operation
    project_dir: Path
    cli: PulumiCli
    env_vars: dict[str, str]
    report: Callable[[str, Phase, str | None], None]
    redact: Callable[[str], str]
    hooks: StackHooks | None = None


def _run_stack(target: StackTarget, ctx: _Context) -> StackOutcome:
    start = time.monotonic()
    run = _StackRun(target.name, ctx.report)
    hook_ctx: HookContext | None = None

    def done(result: StackResultKind, error: str | None = None) -> StackOutcome:
        safe_error = ctx.redact(error) if error is not None else None
        ctx.report(target.name, result, safe_error)
        details: dict[str, object] = {}
        notes: tuple[str, ...] = ()
        if hook_ctx is not None and ctx.hooks is not None:
            details = {ctx.hooks.key: dict(hook_ctx.details)} if hook_ctx.details else {}
            notes = tuple(hook_ctx.notes)
        return StackOutcome(
            target.name,
            result,
            run.changes(),
            round(time.monotonic() - start, 3),
            safe_error,
            details,
            notes,
        )

    if ctx.operation == "destroy":
        if target.protect is None:
            return done(
                "refused",
                f"{target.stack_file}: destroy refused: the stack file does not validate, so whether "
                f"{PROTECT_KEY} is set is unknown ({target.config_problem})",
            )
        if target.protect:
            return done(
                "refused",
                f"{target.stack_file}: destroy refused: {PROTECT_KEY} is true (the engine would delete the "
                f"tenant's unprotected resources, then fail at the protected ones); {_lift_hint(target)}",
            )
    ctx.report(target.name, "starting", "selecting the stack")
    try:
        workspace = LocalWorkspace(
            work_dir=str(ctx.project_dir),
            env_vars=ctx.env_vars,
            secrets_provider=target.secrets_provider,
            pulumi_command=ctx.cli,
        )
        if ctx.operation in ("up", "preview"):
            stack = Stack.create_or_select(target.name, workspace)
        else:
            stack = Stack.select(target.name, workspace)
        if ctx.operation == "destroy":
            protected = _protected_in_state(workspace, target.name)
            if protected:
                return done(
                    "refused",
                    f"{target.stack_file}: destroy refused: the state holds {len(protected)} protected "
                    f"resource(s) ({_resource_name(protected[0])}, ...); {_lift_hint(target)}",
                )
        if ctx.hooks is not None:  # after every refusal of the fleet's own: never acts on a refused stack
            hook_ctx = HookContext(
                ctx.operation,
                target,
                stack,
                lambda text: ctx.report(target.name, "running", text),
                ctx.redact,
            )
            ctx.hooks.before(hook_ctx)
        ctx.report(target.name, "running", ctx.operation)
        if ctx.operation == "up":
            stack.up(on_event=run.on_event, color="never", show_secrets=False, suppress_progress=True)
        elif ctx.operation == "preview":
            stack.preview(on_event=run.on_event, color="never", suppress_progress=True)
        elif ctx.operation == "refresh":
            stack.refresh(on_event=run.on_event, color="never", show_secrets=False, suppress_progress=True)
        else:
            stack.destroy(on_event=run.on_event, color="never", show_secrets=False, suppress_progress=True)
        if ctx.hooks is not None and hook_ctx is not None:
            ctx.hooks.after(hook_ctx)
    except StackRefused as exc:
        return done("refused", str(exc))
    except StackFailed as exc:
        return done("failed", str(exc))
    except StackNotFoundError:
        return done(
            "failed", f"stack {target.name!r} does not exist in the backend; run `btp-infra up` first"
        )
    except CommandError as exc:
        return done("failed", run.error or _command_error_line(exc))
    except Exception as exc:  # one stack's failure never stops the others
        return done("failed", run.error or _first_line(str(exc)) or type(exc).__name__)
    return done("succeeded")


# ---- the fleet -------------------------------------------------------------------------------------


def _install_once(ctx: _Context, on_output: Callable[[str], None] | None) -> str | None:
    """``pulumi install`` (the project's virtualenv, requirements and plugins) once, before fanning out;
    the first error line when it failed."""
    workspace = LocalWorkspace(work_dir=str(ctx.project_dir), env_vars=ctx.env_vars, pulumi_command=ctx.cli)
    try:
        workspace.install(on_output=on_output)
    except CommandError as exc:
        return ctx.redact(f"pulumi install failed: {_command_error_line(exc)}")
    except Exception as exc:  # the version gate of install(), OSError
        return ctx.redact(f"pulumi install failed: {_first_line(str(exc)) or type(exc).__name__}")
    return None


def run_fleet(
    operation: str,
    stacks: Sequence[str],
    *,
    project_dir: str | Path = ".",
    parallel: int = DEFAULT_PARALLEL,
    yes: bool = False,
    console: Console | None = None,
    on_progress: Callable[[ProgressUpdate], None] | None = None,
    show_summary: bool = True,
    install: bool = True,
    environ: Mapping[str, str] | None = None,
    pulumi_root: str | None = None,
    hooks: StackHooks | None = None,
) -> FleetResult:
    """Run ``operation`` on ``stacks`` (names of files in ``stacks/``; see :func:`all_stacks`).

    ``parallel``: stacks at once (≥ 1). ``yes``: required for ``destroy`` (the CLI asks first).
    ``console``: live progress (one line per stack) and, with ``show_summary``, the final table and any
    one-line error go there; None prints nothing. ``on_progress`` gets every :class:`ProgressUpdate`.
    ``install``: run ``pulumi install`` once before the stacks. ``environ``: the environment read for
    ``PULUMI_BACKEND_URL`` and the passphrase (default ``os.environ``); the Pulumi processes inherit
    ``os.environ`` and, when given, get ``environ`` on top. ``pulumi_root``: use ``<root>/bin/pulumi``
    instead of the one on ``PATH``. ``hooks``: per-stack work right before and after the operation
    (:mod:`btp_infra.automation.hooks`; ``btp-infra destroy`` offboards with them).
    Never raises for a stack's failure; see the module docstring for exit codes."""
    if isinstance(stacks, str):
        stacks = [stacks]
    root = Path(project_dir).resolve()
    display = FleetDisplay(console) if console is not None else None
    try:
        if operation not in OPERATIONS:
            raise FleetSetupError(f"unknown operation {operation!r}; valid: {', '.join(OPERATIONS)}")
        op: Operation = operation  # type: ignore[assignment]  # checked just above
        if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
            raise FleetSetupError(f"parallel must be a whole number of at least 1, not {parallel!r}")
        if op == "destroy" and not yes:
            raise FleetSetupError("destroy deletes every resource of the selected stacks: confirm it (--yes)")
        cli = find_pulumi_cli(root, pulumi_root=pulumi_root, environ=environ)
        targets = resolve_targets(stacks, root)
        backend: Backend = resolve_backend(root, environ)
        passphrase: Passphrase | None = None
        if any(t.secrets_provider == PASSPHRASE_PROVIDER for t in targets):
            passphrase = resolve_passphrase(environ)
    except FleetSetupError as exc:
        if console is not None:
            print_error(console, str(exc))
        return FleetResult(operation, (), exc.exit_code, str(exc))

    secret_env = passphrase.secret_env if passphrase is not None else {}
    # An explicit `environ` reaches every Pulumi process too (on top of the inherited os.environ), through
    # PulumiCli rather than the workspaces' env_vars, whose repr the Automation API prints.
    cli = cli.with_secret_env({**(environ or {}), **secret_env})
    redact = _redactor([*secret_env.values(), *_secret_values(os.environ if environ is None else environ)])
    version = str(cli.version)
    lock = threading.Lock()
    started: dict[str, float] = {}

    def report(stack: str, phase: Phase, step: str | None) -> None:
        with lock:
            if phase == "starting" and stack not in started:
                started[stack] = time.monotonic()
            elapsed = time.monotonic() - started[stack] if stack in started else 0.0
        update = ProgressUpdate(stack, phase, step, round(elapsed, 3))
        if display is not None:
            display.update(update)
        if on_progress is not None:
            on_progress(update)

    ctx = _Context(op, root, cli, dict(backend.env), report, redact, hooks)
    if not targets:
        result = FleetResult(op, (), 0, None, backend.url, version)
        if console is not None and show_summary:
            print_summary(console, result)
        return result
    for target in targets:
        report(target.name, "queued", None)

    outcomes: list[StackOutcome]
    with display if display is not None else contextlib.nullcontext():
        if install:
            error = _install_once(ctx, None)
            if error is not None:
                result = FleetResult(op, (), 1, error, backend.url, version)
                if display is not None:
                    display.stop()
                if console is not None:
                    print_error(console, error)
                return result
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="btp-infra-fleet") as pool:
            futures = [pool.submit(_run_stack, target, ctx) for target in targets]
            try:
                outcomes = [f.result() for f in futures]
            except BaseException:  # Ctrl-C: start no further stack (running ones get the SIGINT too)
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    exit_code = 0 if all(o.ok for o in outcomes) else 1
    result = FleetResult(op, tuple(outcomes), exit_code, None, backend.url, version)
    if console is not None and show_summary:
        print_summary(console, result)
    return result
