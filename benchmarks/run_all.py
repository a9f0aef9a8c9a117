"""Run every benchmark and rewrite its generated block in ``benchmarks/RESULTS.md``.

    python -m benchmarks.run_all                 # all six (about 9 minutes), RESULTS.md rewritten
    python -m benchmarks.run_all --only fleet    # some of them
    python -m benchmarks.run_all --quick         # small sizes, printed only (RESULTS.md untouched)

Each section of RESULTS.md has a generated block between ``<!-- begin: NAME -->`` and ``<!-- end: NAME -->``
(command, machine, date, figures, what was measured and how); text outside the blocks is kept. A section
that is missing is appended. Exit code 1 if a benchmark's correctness checks failed (never for timings).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import api_economy, critical_path, fleet, plan_scale, reliability, validate_scale
from ._support import machine, today

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PLAN_SIZES = (10, 200, 500)
QUICK_PLAN_SIZES = (10, 50)
VALIDATE_SIZES = (10, 100, 500)
QUICK_VALIDATE_SIZES = (10, 50)
VALIDATE_REPEAT = 3


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    body: str
    ok: bool


def _critical_path(quick: bool) -> Section:
    result = critical_path.run()
    body = critical_path.markdown(result, "python -m benchmarks.critical_path")
    ok = result.btp_infra.ok and (result.peer is None or result.peer.ok)
    return Section(
        "critical_path", "Critical path: one tenant's BTP chain vs. the Terraform schedule", body, ok
    )


def _api_economy(quick: bool) -> Section:
    result = api_economy.run()
    body = api_economy.markdown(result, "python -m benchmarks.api_economy")
    return Section(
        "api_economy", "API economy: HTTP calls per create, no-op up, refresh, destroy", body, result.ok
    )


def plan_scale_markdown(measurements: Sequence[plan_scale.Measurement], command: str) -> str:
    """The plan-scale block: the colleague's table plus a linear fit (seconds ≈ a + b·stacks)."""
    lines = [
        f"Command: `{command}`",
        "",
        "Each size generates that many valid, varied tenant stack files into a temp dir (every one with the "
        "full baseline: quota, limit range, default-deny network policies, mTLS; every 2nd with an extra "
        "entitlement and `protect`; every 3rd x509 with the Secret in the management namespace) and times "
        "**one** "
        "`btp-infra plan --all --json --stacks-dir <dir>` process (fresh interpreter, as in CI): load + "
        "fleet check + render under mocks + the whole policy pack through the SDK's analyzer servicer + "
        "JSON. Peak RSS is the child's `ru_maxrss`.",
        "",
        f"Machine: {machine().line()}. Date: {today()}.",
        "",
        "| stacks | resources | wall s | ms/stack | peak RSS MiB | exit |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for m in measurements:
        lines.append(
            f"| {m.stacks} | {m.resources} | {m.seconds:.1f} | {m.per_stack_ms:.0f} | {m.peak_rss_mib:.0f} "
            f"| {m.exit_code} |"
        )
    if len(measurements) >= 2:
        a, b, r2 = linear_fit([(m.stacks, m.seconds) for m in measurements])
        _, mem_b, _ = linear_fit([(m.stacks, m.peak_rss_mib) for m in measurements])
        lines += [
            "",
            f"- Linear fit: wall ≈ {a:.2f} s + {1000 * b:.0f} ms x stacks (R² = {r2:.4f}); peak RSS grows "
            f"{1024 * mem_b:.0f} KiB per stack.",
        ]
        first, last = measurements[0], measurements[-1]
        if len(measurements) >= 3:
            mid = measurements[-2]
            early = (mid.seconds - first.seconds) / (mid.stacks - first.stacks)
            late = (last.seconds - mid.seconds) / (last.stacks - mid.stacks)
            lines.append(
                f"- Marginal cost per stack: {1000 * early:.0f} ms ({first.stacks}→{mid.stacks}) vs "
                f"{1000 * late:.0f} ms ({mid.stacks}→{last.stacks}): "
                + ("linear (no growth beyond 1.5x)." if late <= 1.5 * early else "GROWS faster than linear.")
            )
    return "\n".join(lines) + "\n"


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """Least squares ``y ≈ a + b·x``: ``(a, b, R²)``."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    b = sxy / sxx if sxx else 0.0
    a = mean_y - b * mean_x
    ss_tot = sum((y - mean_y) ** 2 for _, y in points)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in points)
    return a, b, (1 - ss_res / ss_tot) if ss_tot else 1.0


def _plan_scale(quick: bool) -> Section:
    sizes = QUICK_PLAN_SIZES if quick else PLAN_SIZES
    measurements = []
    for size in sizes:
        measurements.append(plan_scale.measure(size))
        print(f"  plan_scale: {size} stacks in {measurements[-1].seconds:.1f} s", file=sys.stderr, flush=True)
    command = "python -m benchmarks.plan_scale" + (
        "" if sizes == PLAN_SIZES else f" --sizes {' '.join(map(str, sizes))}"
    )
    ok = all(m.exit_code == 0 for m in measurements)
    return Section(
        "plan_scale",
        "`btp-infra plan`: scale with the number of tenant stacks",
        plan_scale_markdown(measurements, command),
        ok,
    )


def _fleet(quick: bool) -> Section:
    tenants, limit, window = (
        (20, 10, 20.0) if quick else (fleet.DEFAULT_TENANTS, fleet.DEFAULT_LIMIT, fleet.DEFAULT_WINDOW)
    )
    result = fleet.run(tenants, limit=limit, window=window)
    command = f"python -m benchmarks.fleet --tenants {tenants}"
    if quick:
        command += f" --limit {limit} --window {window:g}"
    return Section(
        "fleet",
        f"Fleet: {tenants} tenants under the instance-create rate limit",
        fleet.markdown(result, command),
        result.ok,
    )


def _reliability(quick: bool) -> Section:
    counts = reliability.run()
    return Section(
        "reliability",
        "Reliability: scenarios, bad inputs, hostile responses; objects lost or leaked",
        reliability.markdown(counts, "python -m benchmarks.reliability"),
        counts.ok,
    )


def _validate_scale(quick: bool) -> Section:
    sizes = QUICK_VALIDATE_SIZES if quick else VALIDATE_SIZES
    command = (
        f"python -m benchmarks.validate_scale --sizes {' '.join(map(str, sizes))} --repeat {VALIDATE_REPEAT}"
    )
    title = "`btp-infra validate`: scale with the number of tenant stacks"
    try:
        table = validate_scale.markdown(list(sizes), VALIDATE_REPEAT)
    except SystemExit as exc:  # a generated stack did not validate: a correctness failure
        return Section("validate_scale", title, f"Command: `{command}`\n\nFAILED: {exc}", False)
    body = "\n".join(
        [
            f"Command: `{command}`",
            "",
            "Each size generates that many valid, varied tenant stack files (the commented files "
            "`tenant add` writes; every option used across the set, three clusters) into a temp dir "
            "and times one in-process `btp_infra.tenants.validate` of the directory: every file through "
            "the real loader, then the cross-stack rules, after one warm-up run; the import is not "
            "timed. Target: well under a second for 100 stacks.",
            "",
            table,
        ]
    )
    return Section("validate_scale", title, body, True)


BENCHMARKS: dict[str, Callable[[bool], Section]] = {
    "critical_path": _critical_path,
    "api_economy": _api_economy,
    "plan_scale": _plan_scale,
    "fleet": _fleet,
    "reliability": _reliability,
    "validate_scale": _validate_scale,
}


def rewrite(text: str, section: Section) -> str:
    """``text`` with ``section``'s generated block replaced (or the section appended)."""
    begin, end = f"<!-- begin: {section.name} -->", f"<!-- end: {section.name} -->"
    block = f"{begin}\n{section.body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip() + f"\n\n## {section.title}\n\n{block}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--quick", action="store_true", help="small sizes; print, do not rewrite RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite RESULTS.md")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    write = not (args.quick or args.no_write)
    failed: list[str] = []
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        section = BENCHMARKS[name](args.quick)
        print(f"## {section.title}\n\n{section.body}", flush=True)
        if not section.ok:
            failed.append(name)
        if write:
            RESULTS.write_text(rewrite(RESULTS.read_text(encoding="utf-8"), section), encoding="utf-8")
    if failed:
        print(f"correctness checks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
