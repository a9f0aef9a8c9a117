"""The offline plan's runner: which stacks to plan, and planning them (``btp-infra plan``).

Owns stack selection (:func:`select_stacks`), the policy config of a run (:func:`read_policy_config`) and
:func:`run_plan`. Per stack: load the stack file with the config model (invalid → an ``invalid-config``
verdict), check the fleet (no namespace or subaccount mapped by two stacks), render the resource graph under
Pulumi mocks with the real program (:func:`btp_infra.offline.rendering.render`), then run the policy pack
over it exactly as the analyzer would (:class:`btp_infra.offline.analyzer.PackAnalyzer`). Stacks are
rendered and checked in a bounded pool of worker processes (one per core); the report keeps the stacks'
order and is the same as a sequential run's. One stack's failure never hides the others.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel

from btp_infra.config import (
    ConfigError,
    TenantConfig,
    discover_stacks,
    engine_config,
    load_stack_file,
    stack_file_for,
    stack_name_of,
    validate_fleet,
)
from btp_infra.conventions import (
    TYPE_ENTITLEMENT,
    TYPE_KUBERNETES_PROVIDER,
    TYPE_LIMIT_RANGE,
    TYPE_NAMESPACE,
    TYPE_RESOURCE_QUOTA,
    TYPE_SECRET,
    TYPE_SERVICE_BINDING,
    TYPE_SERVICE_INSTANCE,
    TYPE_SM_ACCESS,
    TYPE_SUBACCOUNT,
    TYPE_TENANT_NAMESPACE,
)
from btp_infra.offline import _sdk
from btp_infra.offline.analyzer import Diagnostic, PackAnalyzer, PolicyConfigError, load_policy_config
from btp_infra.offline.graph import RenderedResource
from btp_infra.offline.redaction import Scrubber, key_properties
from btp_infra.offline.rendering import render
from btp_infra.offline.report import (
    SCHEMA_VERSION,
    PlanReport,
    ResourceEntry,
    StackReport,
    Violation,
    format_json,
    format_text,
)
from btp_infra.policy.policies import POLICY_FLEET_UNIQUE
from btp_infra.program import main as tenant_program

__all__ = [
    "FLEET_POLICY",
    "SCHEMA_VERSION",
    "Scrubber",
    "UsageError",
    "default_stacks_dir",
    "format_json",
    "format_text",
    "plan_stack",
    "read_policy_config",
    "run_plan",
    "select_stacks",
]

#: The plan's own cross-stack check (not part of the pack: the pack sees one stack at a time).
FLEET_POLICY = POLICY_FLEET_UNIQUE


class UsageError(Exception):
    """Bad command-line use (unknown stack, conflicting options, unreadable policy config): exit code 2."""


# --------------------------------------------------------------------------------------------------
# Selecting stacks
# --------------------------------------------------------------------------------------------------


def default_stacks_dir(project_dir: Path = Path()) -> Path:
    """The project's stack directory (``stackConfigDir`` of ``Pulumi.yaml``)."""
    return stack_file_for("_", project_dir).parent


def select_stacks(stacks_dir: Path, names: Sequence[str] = (), *, all_stacks: bool = False) -> list[Path]:
    """The stack files to plan: the named ones, or every ``Pulumi.<stack>.yaml`` of ``stacks_dir``.

    ``names`` are stack names (``incident``) or paths to stack files. An existing directory without stack
    files is no error (a fresh checkout has no tenants yet: nothing to plan); a missing one is. Raises
    :class:`UsageError`.
    """
    if names and all_stacks:
        raise UsageError("use either --stack or --all, not both")
    available = discover_stacks(stacks_dir)
    if not names:
        if not available and not stacks_dir.is_dir():
            raise UsageError(f"no stack files (Pulumi.<stack>.yaml) in {stacks_dir}: no such directory")
        return available
    by_name = {stack_name_of(p): p for p in available}
    chosen: list[Path] = []
    for name in names:
        path = Path(name)
        if name.endswith((".yaml", ".yml")) and path.is_file():
            try:
                stack_name_of(path)
            except ValueError as err:
                raise UsageError(str(err)) from None
            chosen.append(path)
        elif name in by_name:
            chosen.append(by_name[name])
        else:
            known = ", ".join(sorted(by_name)) or "none"
            raise UsageError(f"unknown stack {name!r} in {stacks_dir} (known: {known})")
    return list(dict.fromkeys(chosen))


def read_policy_config(path: Path | None) -> dict[str, Any] | None:
    """The ``--policy-config`` file, validated against the pack; problems are usage errors."""
    if path is None:
        return None
    try:
        raw = load_policy_config(path)
        PackAnalyzer(raw)  # validates names, levels and properties exactly as the plan will use them
    except PolicyConfigError as err:
        raise UsageError(str(err)) from None
    return raw


# --------------------------------------------------------------------------------------------------
# Planning one stack
# --------------------------------------------------------------------------------------------------


def _violation(d: Diagnostic, by_urn: Mapping[str, RenderedResource]) -> Violation:
    resource = by_urn.get(d.urn) if d.urn else None
    return Violation(
        policy=d.policy,
        enforcement_level=d.enforcement_level,
        severity=d.severity,
        message=d.message,
        source="stack" if d.source == "stack" else "resource",
        urn=d.urn,
        resource_type=resource.type if resource else None,
        resource_name=resource.name if resource else None,
    )


def _fleet_violations(
    configs: Mapping[str, TenantConfig], level: EnforcementLevel = EnforcementLevel.MANDATORY
) -> dict[str, list[Violation]]:
    """Fleet issues (a namespace twice on one cluster, a subaccount twice anywhere) per stack file, each
    naming both files, at the configured enforcement level of :data:`FLEET_POLICY` (``disabled``: none)."""
    found: dict[str, list[Violation]] = {}
    if level == EnforcementLevel.DISABLED:
        return found
    shown = "mandatory" if level == EnforcementLevel.MANDATORY else "advisory"
    for issue in validate_fleet(configs):
        found.setdefault(issue.source, []).append(
            Violation(FLEET_POLICY, shown, "critical", issue.render(), "fleet")
        )
    return found


def plan_stack(
    stack: str,
    path: Path,
    analyzer: PackAnalyzer,
    *,
    program: Callable[[], Any],
    extra_violations: Sequence[Violation] = (),
    values: Mapping[str, str] | None = None,
) -> StackReport:
    """Render one (valid) stack and run the pack over it; never raises for a stack's own problems.

    ``values`` is the stack's engine-form config (read from ``path`` when not given).
    """
    report = StackReport(stack=stack, file=str(path), violations=list(extra_violations))
    result = render(stack, engine_config(path) if values is None else values, program, calls_inline=True)
    by_urn = {r.urn: r for r in result.resources}
    report.resources = [
        ResourceEntry(r.urn, r.type, r.name, r.protect, key_properties(r), r.import_id, r.retain_on_delete)
        for r in sorted(result.resources, key=_display_order)
    ]
    if result.error is not None:
        report.error_kind = "render-error"
        report.error = _failure(result.error)
        return report
    try:
        diagnostics = analyzer.analyze_resources(result.resources)
    except Exception as err:  # a policy crashed (the CLI would fail the update): report it, go on
        report.error_kind = "policy-error"
        report.error = _failure(err)
        return report
    found = [_violation(d, by_urn) for d in diagnostics]
    report.violations.extend(sorted(found, key=lambda v: (not v.mandatory, v.policy, v.urn or "", v.message)))
    return report


#: Display order of resource types (registration order under mocks is not deterministic).
_TYPE_ORDER = [
    TYPE_KUBERNETES_PROVIDER,
    TYPE_TENANT_NAMESPACE,
    TYPE_SUBACCOUNT,
    TYPE_ENTITLEMENT,
    TYPE_SM_ACCESS,
    TYPE_SERVICE_INSTANCE,
    TYPE_SERVICE_BINDING,
    TYPE_NAMESPACE,
    TYPE_SECRET,
    TYPE_RESOURCE_QUOTA,
    TYPE_LIMIT_RANGE,
]


def _display_order(r: RenderedResource) -> tuple[int, str, str]:
    rank = _TYPE_ORDER.index(r.type) if r.type in _TYPE_ORDER else len(_TYPE_ORDER)
    return (rank, r.type, r.name)


def _stack_name(path: Path) -> str:
    try:
        return stack_name_of(path)
    except ValueError:
        return path.name


def _failure(err: BaseException) -> str:
    """``Type: message`` of an unexpected exception, bounded (the message may quote input)."""
    try:
        text = str(err)
    except Exception:  # a message that cannot even be rendered
        text = ""
    text = " ".join(text[:1000].split())  # one line
    shown = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(err).__name__}: {shown}" if shown else type(err).__name__


def _load_failed(stack: str, key: str, err: Exception) -> StackReport:
    valid = "a stack file like examples/stacks/Pulumi.example.yaml"
    message = f"{key}: cannot be loaded ({_failure(err)}); valid: {valid}"
    return StackReport(stack, key, error_kind="invalid-config", error=message)


# --------------------------------------------------------------------------------------------------
# Running the plan
# --------------------------------------------------------------------------------------------------


@dataclass
class _Planned:
    """What planning one stack file gives the parent: its report, and — when the file loaded — the config
    (for the fleet check) and the engine-form values (for the scrubber)."""

    report: StackReport
    config: TenantConfig | None = None
    values: dict[str, str] | None = None
    invalid: bool = False
    """The config model rejected the file (its secret values are still scrubbed)."""


@dataclass(frozen=True)
class _Work:
    """What every worker needs; set before the workers fork, so nothing here is pickled (closures, the
    servicer and monkeypatched functions reach the workers as they are in the parent)."""

    analyzer: PackAnalyzer
    program: Callable[[], Any]
    paths: list[Path]


_WORK: _Work | None = None
#: One pool at a time per process: the workers of a run find its work in :data:`_WORK`.
_POOL_LOCK = threading.Lock()


def _load(path: Path) -> _Planned:
    """Load one stack file: its config and values, or the ``invalid-config`` report that replaces them."""
    key, stack = str(path), _stack_name(path)
    try:
        config = load_stack_file(path)
    except ConfigError as err:
        return _Planned(StackReport(stack, key, error_kind="invalid-config", error=str(err)), invalid=True)
    except Exception as err:  # a bug on some input: this stack's report, not the end of the run
        return _Planned(_load_failed(stack, key, err))
    try:
        values = engine_config(path)
    except Exception as err:
        return _Planned(_load_failed(stack, key, err))
    return _Planned(StackReport(stack, key), config, values)


def _plan_path(path: Path, analyzer: PackAnalyzer, program: Callable[[], Any]) -> _Planned:
    """Load, render and check one stack file; never raises (the fleet's verdicts are added later)."""
    planned = _load(path)
    if planned.config is None or planned.values is None:
        return planned
    try:
        planned.report = plan_stack(
            planned.report.stack, path, analyzer, program=program, values=planned.values
        )
    except Exception as err:  # plan_stack reports a stack's own problems; this is anything else
        planned.report = _crashed(path, err)
    return planned


def _crashed(path: Path, err: BaseException) -> StackReport:
    return StackReport(_stack_name(path), str(path), error_kind="render-error", error=_failure(err))


def _worker_start() -> None:
    """In a new worker: the heap forked from the parent is never collected here, so no collection walks
    it (and its pages stay shared); the garbage of a render is collected once, after it (below)."""
    gc.freeze()
    gc.disable()


def _worker_plan(index: int) -> _Planned:
    """In a worker process: plan stack file ``index`` of the forked :data:`_WORK`."""
    if _WORK is None:  # only reachable if a worker was not forked from run_plan
        raise RuntimeError("no plan work in this worker")
    try:
        return _plan_path(_WORK.paths[index], _WORK.analyzer, _WORK.program)
    finally:
        # A render leaves cycles (futures, tasks, outputs); one collection of what it allocated costs a
        # few milliseconds, the automatic ones during it several times that.
        gc.collect()


def _worker_count(stacks: int) -> int:
    """One worker per core, no more than there are stacks; 1 = plan in this process."""
    return max(1, min(os.cpu_count() or 1, stacks))


def _plan_paths(paths: list[Path], analyzer: PackAnalyzer, program: Callable[[], Any]) -> list[_Planned]:
    """Every stack file planned, in order: in this process for one stack or one core, else the first here
    (its imports are then inherited) and the rest in a pool of forked workers. A worker's exception or
    death is its stack's ``render-error``; the others go on."""
    global _WORK
    with _sdk.stack_traces_off():  # a walk of the whole Python stack per registration; mocks drop it
        workers = _worker_count(len(paths) - 1)
        if len(paths) <= 1 or workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
            return [_plan_path(path, analyzer, program) for path in paths]
        first = _plan_path(paths[0], analyzer, program)
        with _POOL_LOCK:
            _WORK = _Work(analyzer, program, paths)
            try:
                rest = _in_workers(paths, workers)
            finally:
                _WORK = None
    return [first, *rest]


def _pool(workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("fork")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start)


def _in_workers(paths: list[Path], workers: int) -> list[_Planned]:
    """``paths[1:]`` planned by ``workers`` forked processes. A worker that dies breaks the pool and fails
    every stack still in it; those are then planned again one process each, so only the stack that
    killed its worker is reported so."""
    results: list[_Planned | None] = []
    with _pool(workers) as pool:
        futures = [pool.submit(_worker_plan, i) for i in range(1, len(paths))]
        for future, path in zip(futures, paths[1:], strict=True):
            try:
                results.append(future.result())
            except BrokenProcessPool:
                results.append(None)
            except Exception as err:  # its result could not be sent back
                results.append(_after_crash(path, err))
    planned: list[_Planned] = []
    for index, result in enumerate(results, start=1):
        planned.append(result if result is not None else _alone(index, paths[index]))
    return planned


def _alone(index: int, path: Path) -> _Planned:
    """Stack file ``index`` planned in a worker of its own."""
    with _pool(1) as pool:
        try:
            return pool.submit(_worker_plan, index).result()
        except Exception as err:
            return _after_crash(path, err)


def _after_crash(path: Path, err: BaseException) -> _Planned:
    """A stack whose worker failed: reported as a ``render-error``, loaded here so that its config still
    counts for the fleet and its secret values for the scrubber (the error text names no value)."""
    planned = _load(path)
    if planned.config is not None:
        planned.report = _crashed(path, err)
    return planned


def run_plan(
    paths: Sequence[Path],
    *,
    policy_config: Mapping[str, Any] | None = None,
    program: Callable[[], Any] = tenant_program,
) -> tuple[PlanReport, Scrubber]:
    """Plan every stack file in ``paths``; returns the report and the scrubber for its text output.

    Every stack gets its report whatever happens to it: a stack that cannot be loaded is ``invalid-config``,
    one whose rendering or checking fails in any way is an ``error`` (``render-error``); the run goes on.
    """
    try:
        analyzer = PackAnalyzer(policy_config)
    except PolicyConfigError as err:
        raise UsageError(str(err)) from None
    scrubber = Scrubber()
    # Keyed by the stack file (config.source): two directories may hold stacks of the same name.
    configs: dict[str, TenantConfig] = {}
    reports: dict[str, StackReport] = {}
    unique = list(dict.fromkeys(paths))
    for path, planned in zip(unique, _plan_paths(unique, analyzer, program), strict=True):
        key = str(path)
        reports[key] = planned.report
        if planned.invalid:
            with contextlib.suppress(Exception):  # its message shows no secret; scrubbing is a last defence
                scrubber.add_stack_file(path)
        if planned.config is None or planned.values is None:
            continue
        try:
            scrubber.add_config(planned.values)
        except Exception as err:
            reports[key] = _load_failed(planned.report.stack, key, err)
            continue
        configs[key] = planned.config
    fleet = _fleet_violations(configs, analyzer.plan_settings[FLEET_POLICY].enforcement_level)
    for key, violations in fleet.items():
        if key in configs:  # the fleet's verdicts come first, as the stack's own are sorted after them
            reports[key].violations[:0] = violations
    settings = {**analyzer.settings, **analyzer.plan_settings}
    levels = {name: s.enforcement_level.value for name, s in settings.items()}
    return PlanReport([reports[str(path)] for path in unique], levels), scrubber
