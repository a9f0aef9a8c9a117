"""API economy: HTTP calls per tenant create, per no-op ``up`` (diff only), per refresh, per destroy.

One default tenant stack, driven by ``LocalEngine`` against the emulator (in its own process) with the
critical-path latencies; every phase is a fresh provider process, as with the Pulumi CLI (tokens and SM admin
credentials are fetched again). Calls are counted from the emulator's call log, per method and route
template: writes (POST/PUT/PATCH/DELETE, token requests excluded), reads (of which status polls of
asynchronous operations and entitlement jobs) and token requests.

Targets: a no-op ``up`` and a refresh make **zero writes**; destroy leaves the emulator empty.
Run: ``python -m benchmarks.api_economy``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from btp_infra.sandbox import SandboxConfig
from btp_infra.testing.local_engine import LocalEngine

from ._support import (
    CallSummary,
    ChainLatencies,
    RemoteSandbox,
    chain_objects,
    cis_key_env,
    leftovers,
    machine,
    tenant_config,
    tenant_guid,
    tenant_name,
    tenant_seeds,
    today,
    warm_up,
)
from .critical_path import DEFAULT_LATENCIES

PHASES = ("create", "no-op up", "refresh", "destroy")


@dataclass
class ApiEconomyResult:
    latencies: ChainLatencies
    phases: dict[str, CallSummary] = field(default_factory=dict)
    objects_after_create: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    left_after_destroy: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and all(n == 1 for n in self.objects_after_create.values())
            and self.phases["no-op up"].writes == 0
            and self.phases["refresh"].writes == 0
            and not any(self.left_after_destroy.values())
        )


def run(latencies: ChainLatencies = DEFAULT_LATENCIES) -> ApiEconomyResult:
    """Create, no-op up, refresh and destroy tenant 0; the calls of each phase."""
    result = ApiEconomyResult(latencies)
    config = SandboxConfig(subaccounts=tenant_seeds(1), latencies=latencies.sandbox())
    with RemoteSandbox(config) as sandbox, cis_key_env(sandbox.cis_service_key()):
        warm_up()
        engine = LocalEngine(tenant_name(0), tenant_config(0))
        seen = 0

        def phase(name: str) -> None:
            nonlocal seen
            calls = sandbox.calls()
            result.phases[name] = CallSummary.of(calls[seen:])
            seen = len(calls)

        created = engine.up()
        phase("create")
        if not created.ok:
            result.errors.append(f"create: {created.render.error}")
        result.objects_after_create = chain_objects(sandbox.state(), tenant_name(0), tenant_guid(0))
        again = engine.up()
        phase("no-op up")
        result.changes["no-op up"] = again.changes
        if not again.ok:
            result.errors.append(f"no-op up: {again.render.error}")
        dropped = engine.refresh()
        phase("refresh")
        result.changes["refresh"] = len(dropped)
        engine.destroy()
        phase("destroy")
        result.left_after_destroy = leftovers(sandbox.state())
    return result


def markdown(result: ApiEconomyResult, command: str) -> str:
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {machine().line()}. Date: {today()}.",
        "",
        f"Emulator latencies: {result.latencies.describe()} (status polls depend on them).",
        "",
        "| phase | HTTP calls | writes | reads | of which status polls | token requests |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in PHASES:
        c = result.phases.get(name)
        if c is not None:
            lines.append(f"| {name} | {c.total} | {c.writes} | {c.reads} | {c.polls} | {c.tokens} |")
    routes = sorted({route for c in result.phases.values() for route in c.by_route})
    lines += [
        "",
        "| method and route template | " + " | ".join(PHASES) + " |",
        "|---|" + "---:|" * len(PHASES),
    ]
    for route in routes:
        counts = [
            result.phases[name].by_route.get(route, 0) if name in result.phases else 0 for name in PHASES
        ]
        lines.append(f"| `{route}` | " + " | ".join(str(n) if n else "" for n in counts) + " |")
    noop, refresh = result.phases.get("no-op up"), result.phases.get("refresh")
    lines += [
        "",
        f"- No-op up: {noop.total if noop else '?'} calls, {noop.writes if noop else '?'} writes, "
        f"{result.changes.get('no-op up', '?')} changes (target: zero writes). Refresh: "
        f"{refresh.writes if refresh else '?'} writes, "
        f"{result.changes.get('refresh', '?')} resources dropped.",
        f"- Objects after create: {result.objects_after_create}; left in the emulator after destroy: "
        f"{result.left_after_destroy}.",
    ]
    if result.errors:
        lines.append(f"- ERRORS: {result.errors}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.parse_args()
    result = run()
    print(markdown(result, "python -m benchmarks.api_economy"), end="")
    if not result.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
