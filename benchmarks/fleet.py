"""Fleet under rate limits: N tenants created at once against SAP Service Manager's instance-create limit.

N default tenant stacks (N seeded subaccounts), each a ``LocalEngine.up()`` in its own thread (all at once by
default; ``--concurrency`` bounds it), against one emulator in its own process that allows ``limit`` (50)
``POST /v1/service_instances`` per sliding ``window`` (60 s) and answers 429 with an HTTP-date ``Retry-After``
beyond it, as SAP documents. The limit counts every caller together (``RateLimit(per="all")``): SAP limits
per caller and each subaccount's SM admin credentials are a caller of their own, so one instance per tenant
would never be throttled for real; counting them together is the worst case (one caller creating N instances).

**Bound** — the shortest completion time the limit allows: the first ``limit`` creates pass at once, every
further batch of ``limit`` must wait one more window after the first, and every tenant's chain needs its
latencies anyway, so ``bound = (ceil(N / limit) - 1) x window + sum of one chain's latencies``
(100 tenants, 50/min, 4.5 s chain: 60 + 4.5 = 64.5 s). Reported: completion (first request to last response
of the fleet) ÷ bound (target ≤ 1.2), failures (target 0) and duplicates: every tenant must have exactly one
entitlement, admin binding, instance and binding (target: no tenant with anything else).
Run: ``python -m benchmarks.fleet`` (``--tenants 20 --limit 10`` for a quick look).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from btp_infra.sandbox import RateLimit, SandboxConfig
from btp_infra.testing.local_engine import LocalEngine

from ._support import (
    ChainLatencies,
    RemoteSandbox,
    chain_objects,
    cis_key_env,
    machine,
    rate_limit_bound,
    tenant_config,
    tenant_guid,
    tenant_name,
    tenant_seeds,
    today,
    warm_up,
)

DEFAULT_LATENCIES = ChainLatencies(entitlement=1.0, admin_binding=0.5, instance=2.0, binding=1.0)
DEFAULT_TENANTS = 100
DEFAULT_LIMIT = 50
DEFAULT_WINDOW = 60.0
TARGET_RATIO = 1.2
INSTANCES_ROUTE = "/sm/v1/service_instances"


@dataclass
class TenantOutcome:
    index: int
    ok: bool
    seconds: float
    error: str | None = None


@dataclass
class FleetResult:
    tenants: int
    limit: int
    window: float
    concurrency: int
    latencies: ChainLatencies
    seconds: float = 0.0
    outcomes: list[TenantOutcome] = field(default_factory=list)
    wrong_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    creates: int = 0
    throttled: int = 0
    total_calls: int = 0

    @property
    def bound(self) -> float:
        return rate_limit_bound(self.tenants, self.limit, self.window, self.latencies.total)

    @property
    def ratio(self) -> float:
        return self.seconds / self.bound

    @property
    def failures(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)

    @property
    def ok(self) -> bool:
        return self.failures == 0 and not self.wrong_counts and self.creates == self.tenants


def run(
    tenants: int = DEFAULT_TENANTS,
    *,
    limit: int = DEFAULT_LIMIT,
    window: float = DEFAULT_WINDOW,
    concurrency: int | None = None,
    latencies: ChainLatencies = DEFAULT_LATENCIES,
) -> FleetResult:
    """Create ``tenants`` tenants concurrently under the rate limit; count failures and duplicates."""
    workers = concurrency or tenants
    result = FleetResult(tenants, limit, window, workers, latencies)
    config = SandboxConfig(
        subaccounts=tenant_seeds(tenants),
        latencies=latencies.sandbox(),
        rate_limits=[RateLimit(method="POST", route=INSTANCES_ROUTE, limit=limit, window=window, per="all")],
        retry_after_format="http-date",
    )
    with RemoteSandbox(config) as sandbox, cis_key_env(sandbox.cis_service_key()):
        warm_up()  # also makes pulumi-kubernetes' lazy imports safe for threads

        def one(index: int) -> TenantOutcome:
            engine = LocalEngine(tenant_name(index), tenant_config(index))
            began = time.perf_counter()
            try:
                outcome = engine.up()
            except Exception as exc:  # a bug in the harness or engine: report, do not hide
                return TenantOutcome(
                    index, False, time.perf_counter() - began, f"{type(exc).__name__}: {exc}"
                )
            error = None if outcome.ok else f"{type(outcome.render.error).__name__}: {outcome.render.error}"
            return TenantOutcome(index, outcome.ok, time.perf_counter() - began, error)

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tenant") as pool:
            result.outcomes = list(pool.map(one, range(tenants)))
        result.seconds = time.perf_counter() - began
        state = sandbox.state()
        calls = sandbox.calls()
    for index in range(tenants):
        counts = chain_objects(state, tenant_name(index), tenant_guid(index))
        if any(n != 1 for n in counts.values()):
            result.wrong_counts[tenant_name(index)] = counts
    posts = Counter(c["status"] for c in calls if c["method"] == "POST" and c["route"] == INSTANCES_ROUTE)
    result.creates = sum(n for status, n in posts.items() if status in (200, 201, 202))
    result.throttled = posts.get(429, 0)
    result.total_calls = len(calls)
    return result


def markdown(result: FleetResult, command: str) -> str:
    seconds = sorted(o.seconds for o in result.outcomes)
    median = seconds[len(seconds) // 2] if seconds else 0.0
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {machine().line()}. Date: {today()}.",
        "",
        f"{result.tenants} tenants, {result.concurrency} at a time (threads in one process; the emulator in "
        f"another), limit {result.limit} instance creates per {result.window:g} s for all callers together, "
        f"429 + HTTP-date `Retry-After`. Latencies: {result.latencies.describe()}.",
        "",
        "| tenants | bound s | completion s | completion ÷ bound | failures | tenants not exactly 1x each "
        "| instance POSTs 202 / 429 | HTTP calls |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result.tenants} | {result.bound:.1f} | {result.seconds:.1f} | **{result.ratio:.3f}** | "
        f"{result.failures} | {len(result.wrong_counts)} | {result.creates} / {result.throttled} | "
        f"{result.total_calls} |",
        "",
        f"- Target: completion ÷ bound ≤ {TARGET_RATIO} "
        f"({'met' if result.ratio <= TARGET_RATIO else 'MISSED'}); failures 0 and duplicates 0 "
        f"({'met' if result.ok else 'MISSED'}).",
        f"- Per tenant `up()`: median {median:.1f} s, slowest {seconds[-1] if seconds else 0:.1f} s.",
    ]
    failed = [o for o in result.outcomes if not o.ok]
    if failed:
        lines.append(f"- FAILED: {[(tenant_name(o.index), o.error) for o in failed[:5]]}")
    if result.wrong_counts:
        lines.append(f"- WRONG COUNTS: {dict(list(result.wrong_counts.items())[:5])}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=int, default=DEFAULT_TENANTS)
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="instance creates per window")
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW, help="seconds")
    parser.add_argument("--concurrency", type=int, default=None, help="tenants at a time (default: all)")
    args = parser.parse_args()
    result = run(args.tenants, limit=args.limit, window=args.window, concurrency=args.concurrency)
    command = f"python -m benchmarks.fleet --tenants {args.tenants}"
    if args.limit != DEFAULT_LIMIT or args.window != DEFAULT_WINDOW:
        command += f" --limit {args.limit} --window {args.window:g}"
    if args.concurrency:
        command += f" --concurrency {args.concurrency}"
    print(markdown(result, command), end="")
    if not result.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
