"""Critical path: one tenant's BTP chain against the emulator with fixed operation latencies.

Measures, in one run and against one emulator (in its own process):

1. **btp-infra**: ``LocalEngine.up()`` of a default tenant stack (the real Pulumi program under mocks, the
   real dynamic providers and clients): subaccount check → entitlement
   ``service-manager/service-operator-access`` → SM admin binding → ``service-operator-access`` instance →
   binding. Reported as wall time ÷ the sum of the emulator's latencies (target ≤ 1.10): the sum is what the
   chain must wait at the very least.
2. **peer baseline**: the same chain, driven with the same clients against the same emulator, waiting the way
   terraform-provider-btp does (``StateChangeSchedule``, below). It skips Pulumi entirely (no render, no
   pickling), so it is, if anything, favoured.

The peer schedule, from terraform-provider-btp's sources (``internal/tfutils/state.go``, a copy of
terraform-plugin-testing's ``StateChangeConf.WaitForStateContext``, and the resources' create functions):
the first refresh comes ``Delay`` after the call; the wait after it is ``MinTimeout``; every later wait
doubles, capped at 10 s (``wait *= 2``; ``if wait < MinTimeout: MinTimeout; elif wait > 10 s: 10 s``).

- entitlement (``resource_subaccount_entitlement.go``): ``Delay`` 5 s, ``MinTimeout`` 5 s → refreshes at 5,
  10, 20, 30 … s (the steady 10 s polling btp-api.md §C.4 describes);
- service instance (``resource_subaccount_service_instance.go``): ``Delay`` = ``MinTimeout`` =
  ``CalculateDelayAndMinTimeOut(timeout)`` = round(timeout / 100) = 6 s at the 10-minute default → 6, 12,
  22 …;
- service binding (``resource_subaccount_service_binding.go``): ``Delay`` 5 s, ``MinTimeout`` 5 s → 5, 10,
  20 ….

The SM admin binding has no Terraform counterpart (the provider reaches SM through the BTP CLI server); both
sides do it the same way (one synchronous call). Run: ``python -m benchmarks.critical_path``.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.http import PollPolicy
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.sandbox import SandboxConfig
from btp_infra.testing.local_engine import LocalEngine, StateEntry

from ._support import (
    OPERATOR_PLAN,
    OPERATOR_SERVICE,
    CallSummary,
    ChainLatencies,
    RemoteSandbox,
    binding_name,
    chain_objects,
    cis_key_env,
    instance_name,
    machine,
    tenant_config,
    tenant_guid,
    tenant_name,
    tenant_seeds,
    today,
    warm_up,
)

DEFAULT_LATENCIES = ChainLatencies(entitlement=3.0, admin_binding=1.0, instance=5.0, binding=2.0)
TARGET_RATIO = 1.10
TF_DEFAULT_TIMEOUT = 600.0
"""terraform-provider-btp's ``tfutils.DefaultTimeout`` (10 minutes)."""
TF_WAIT_CAP = 10.0
_EPSILON = 1e-3


@dataclass(frozen=True)
class StateChangeSchedule(PollPolicy):
    """terraform-provider-btp's waiting as a :class:`PollPolicy`: first refresh after ``initial`` (``Delay``),
    then ``MinTimeout``, then doubling waits capped at 10 s. Waits are measured from the end of a refresh, as
    in Go, so request times accumulate exactly as there.

    :func:`btp_infra.btp.http.poll` sleeps ``initial`` first for operations (``wait_first``) and asks
    :meth:`interval` after every fetch with the time elapsed since the poll began.
    """

    min_timeout: float = 5.0

    @classmethod
    def of(cls, delay: float, min_timeout: float) -> StateChangeSchedule:
        return cls(
            initial=delay, ratio=0.0, cap=max(delay, min_timeout, TF_WAIT_CAP), min_timeout=min_timeout
        )

    def waits(self) -> Iterator[float]:
        """The waits after the 1st, 2nd, … refresh (``WaitForStateContext``)."""
        wait = 0.1  # "first round had no wait": set to 100 ms, then doubled below
        while True:
            wait *= 2
            if wait < self.min_timeout:
                wait = self.min_timeout
            elif wait > TF_WAIT_CAP:
                wait = TF_WAIT_CAP
            yield wait

    def refreshes(self, until: float) -> list[float]:
        """Nominal refresh times (seconds after the call) up to ``until``."""
        times = [self.initial]
        for wait in self.waits():
            if times[-1] > until:
                break
            times.append(times[-1] + wait)
        return times

    def interval(self, elapsed: float) -> float:
        if elapsed < self.initial - _EPSILON:
            return self.initial - elapsed  # Terraform's first refresh only comes after Delay
        points = self.refreshes(elapsed + self.cap)
        done = bisect.bisect_right(points, elapsed + _EPSILON)  # refreshes made so far, this one included
        return next(itertools.islice(self.waits(), done - 1, None))


@dataclass(frozen=True)
class PeerSchedule:
    """terraform-provider-btp's polling per resource (see the module docstring)."""

    entitlement: StateChangeSchedule = field(default_factory=lambda: StateChangeSchedule.of(5.0, 5.0))
    instance: StateChangeSchedule = field(
        default_factory=lambda: StateChangeSchedule.of(round(TF_DEFAULT_TIMEOUT / 100), round(600 / 100))
    )
    binding: StateChangeSchedule = field(default_factory=lambda: StateChangeSchedule.of(5.0, 5.0))

    def describe(self) -> str:
        def one(s: StateChangeSchedule) -> str:
            return ", ".join(f"{t:g}" for t in s.refreshes(30.0)[:5]) + " … s"

        return (
            f"entitlement refreshes at {one(self.entitlement)}; instance at {one(self.instance)}; "
            f"binding at {one(self.binding)}"
        )


@dataclass
class ChainRun:
    """One drive of the chain: wall seconds, seconds per step, HTTP calls."""

    driver: str
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    calls: CallSummary | None = None
    objects: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(count == 1 for count in self.objects.values())


@dataclass
class CriticalPathResult:
    latencies: ChainLatencies
    btp_infra: ChainRun
    peer: ChainRun | None
    cold_start_seconds: float
    schedule: PeerSchedule

    @property
    def ratio(self) -> float:
        return self.btp_infra.seconds / self.latencies.total

    @property
    def peer_ratio(self) -> float | None:
        return None if self.peer is None else self.peer.seconds / self.latencies.total


class TimedEngine(LocalEngine):
    """A LocalEngine that records how long each dynamic resource's step took."""

    def __init__(self, stack: str, config: Mapping[str, str]) -> None:
        super().__init__(stack, config)
        self.step_seconds: dict[str, float] = {}

    def step(
        self,
        type_: str,
        name: str,
        raw_inputs: Mapping[str, Any],
        previous: StateEntry | None,
        *,
        preview: bool = False,
    ) -> tuple[str | None, dict[str, Any], str]:
        started = time.perf_counter()
        try:
            return super().step(type_, name, raw_inputs, previous, preview=preview)
        finally:
            self.step_seconds[type_.rsplit(":", 1)[-1]] = time.perf_counter() - started


def drive_btp_infra(index: int) -> tuple[ChainRun, TimedEngine]:
    """``LocalEngine.up()`` of tenant ``index`` (the emulator's key must be in the environment)."""
    engine = TimedEngine(tenant_name(index), tenant_config(index))
    run = ChainRun("btp-infra")
    started = time.perf_counter()
    result = engine.up()
    run.seconds = time.perf_counter() - started
    run.steps = dict(engine.step_seconds)
    if not result.ok:
        run.error = f"{type(result.render.error).__name__}: {result.render.error}"
    return run, engine


def drive_peer(key: Mapping[str, Any], index: int, schedule: PeerSchedule) -> ChainRun:
    """The same chain with the same clients, waiting as terraform-provider-btp does."""
    cis = CisServiceKey.parse(dict(key), source="benchmark cis key")
    guid, namespace = tenant_guid(index), tenant_name(index)
    labels = {"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": [namespace]}
    run = ChainRun("terraform-provider-btp schedule")
    started = time.perf_counter()
    mark = started

    def lap(step: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        run.steps[step] = now - mark
        mark = now

    try:
        with (
            AccountsClient(cis) as accounts,
            EntitlementsClient(cis, poll_policy=schedule.entitlement) as entitlements,
        ):
            accounts.get_subaccount(guid)
            lap("SubaccountCheck")
            entitlements.assign(guid, OPERATOR_SERVICE, OPERATOR_PLAN, timeout=TF_DEFAULT_TIMEOUT)
            lap("SubaccountEntitlement")
            creds, _ = accounts.ensure_service_management_binding(guid, timeout=TF_DEFAULT_TIMEOUT)
            lap("ServiceManagerAccess")
            with (
                ServiceManagerClient(creds, poll_policy=schedule.instance) as instances,
                ServiceManagerClient(creds, poll_policy=schedule.binding) as bindings,
            ):
                plan = instances.find_plan(OPERATOR_SERVICE, OPERATOR_PLAN)
                instance = instances.create_instance(
                    instance_name(namespace), plan_id=plan.id, labels=labels, timeout=TF_DEFAULT_TIMEOUT
                )
                lap("ServiceInstance")
                bindings.create_binding(
                    binding_name(namespace), instance.id, labels=labels, timeout=TF_DEFAULT_TIMEOUT
                )
                lap("ServiceBinding")
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"
    run.seconds = time.perf_counter() - started
    return run


def run(
    latencies: ChainLatencies = DEFAULT_LATENCIES, *, peer: bool = True, schedule: PeerSchedule | None = None
) -> CriticalPathResult:
    """Drive tenant 0 with btp-infra, then (``peer``) tenant 1 with the Terraform schedule."""
    schedule = schedule or PeerSchedule()
    config = SandboxConfig(subaccounts=tenant_seeds(2), latencies=latencies.sandbox())
    with RemoteSandbox(config) as sandbox, cis_key_env(sandbox.cis_service_key()):
        cold = warm_up()
        before = len(sandbox.calls())
        ours, _ = drive_btp_infra(0)
        calls = sandbox.calls()
        ours.calls = CallSummary.of(calls[before:])
        ours.objects = chain_objects(sandbox.state(), tenant_name(0), tenant_guid(0))
        theirs: ChainRun | None = None
        if peer:
            before = len(calls)
            theirs = drive_peer(sandbox.cis_service_key(), 1, schedule)
            theirs.calls = CallSummary.of(sandbox.calls()[before:])
            theirs.objects = chain_objects(sandbox.state(), tenant_name(1), tenant_guid(1))
    return CriticalPathResult(latencies, ours, theirs, cold, schedule)


STEP_LATENCY: dict[str, str | None] = {
    "SubaccountCheck": None,
    "SubaccountEntitlement": "entitlement",
    "ServiceManagerAccess": "admin_binding",
    "ServiceInstance": "instance",
    "ServiceBinding": "binding",
}


def markdown(result: CriticalPathResult, command: str) -> str:
    """The RESULTS.md section body."""
    lat = result.latencies
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {machine().line()}. Date: {today()}.",
        "",
        f"Emulator latencies: {lat.describe()}. Peer schedule: {result.schedule.describe()}.",
        "",
        "| step | latency s | btp-infra s | peer (Terraform schedule) s |",
        "|---|---:|---:|---:|",
    ]
    for step, key in STEP_LATENCY.items():
        latency = float(getattr(lat, key)) if key else 0.0
        peer = result.peer.steps.get(step) if result.peer else None
        ours = result.btp_infra.steps.get(step)
        lines.append(
            f"| {step} | {latency:g} | {_num(ours)} | {_num(peer)} |",
        )
    peer_total = result.peer.seconds if result.peer else None
    lines += [
        f"| **whole chain** | **{lat.total:g}** | **{result.btp_infra.seconds:.2f}** "
        f"| **{_num(peer_total)}** |",
        "",
        f"- **btp-infra: wall ÷ sum of latencies = {result.ratio:.3f}** (target ≤ {TARGET_RATIO:.2f}; "
        f"{'met' if result.ratio <= TARGET_RATIO else 'MISSED'}).",
    ]
    if result.peer is not None and result.peer_ratio is not None:
        lines.append(
            f"- Peer baseline: {result.peer_ratio:.3f} x the latencies; btp-infra is "
            f"{result.peer.seconds / result.btp_infra.seconds:.2f}x faster on this chain "
            f"({result.peer.seconds - result.btp_infra.seconds:.1f} s less)."
        )
    for run_ in (result.btp_infra, result.peer):
        if run_ is None or run_.calls is None:
            continue
        c = run_.calls
        lines.append(
            f"- {run_.driver}: {c.total} HTTP calls ({c.writes} writes, {c.reads} reads of which {c.polls} "
            f"status polls, {c.tokens} token requests); objects {run_.objects}"
            + (f"; ERROR {run_.error}" if run_.error else "")
        )
    lines.append(
        f"- Not in the ratio: the one-off cold start of a process ({result.cold_start_seconds:.2f} s: "
        "importing the Pulumi SDK and pulumi-kubernetes' lazy modules on the first render), measured "
        "separately."
    )
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entitlement", type=float, default=DEFAULT_LATENCIES.entitlement)
    parser.add_argument("--admin-binding", type=float, default=DEFAULT_LATENCIES.admin_binding)
    parser.add_argument("--instance", type=float, default=DEFAULT_LATENCIES.instance)
    parser.add_argument("--binding", type=float, default=DEFAULT_LATENCIES.binding)
    parser.add_argument("--no-peer", action="store_true", help="skip the Terraform-schedule baseline")
    args = parser.parse_args()
    latencies = ChainLatencies(args.entitlement, args.admin_binding, args.instance, args.binding)
    result = run(latencies, peer=not args.no_peer)
    print(markdown(result, "python -m benchmarks.critical_path"), end="")
    if not result.btp_infra.ok or (result.peer is not None and not result.peer.ok):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
