"""The benchmarks still run: each one's core at a tiny size. Counts and correctness only, never timings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # ``benchmarks`` is not installed; it lives next to the package
    sys.path.insert(0, str(ROOT))

from benchmarks import api_economy, critical_path, fleet, plan_scale, run_all  # noqa: E402
from benchmarks._support import ChainLatencies, rate_limit_bound  # noqa: E402

TINY = ChainLatencies(entitlement=0.05, admin_binding=0.02, instance=0.05, binding=0.03)


def test_terraform_schedule_is_state_change_conf() -> None:
    entitlement = critical_path.StateChangeSchedule.of(5, 5)
    assert entitlement.refreshes(30) == [5, 10, 20, 30, 40]
    assert critical_path.StateChangeSchedule.of(6, 6).refreshes(22) == [6, 12, 22, 32]
    hour = critical_path.StateChangeSchedule.of(36, 36)  # 1 h timeout: 36 s, then the 10 s cap
    assert hour.refreshes(80) == [36, 72, 82]
    assert entitlement.interval(0.0) == 5  # nothing before Delay
    assert entitlement.interval(5.01) == 5  # after the 1st refresh: MinTimeout
    assert entitlement.interval(10.02) == 10  # then doubling, capped at 10 s
    assert entitlement.interval(20.03) == 10


def test_critical_path_core() -> None:
    tiny_peer = critical_path.PeerSchedule(
        entitlement=critical_path.StateChangeSchedule.of(0.05, 0.05),
        instance=critical_path.StateChangeSchedule.of(0.06, 0.06),
        binding=critical_path.StateChangeSchedule.of(0.05, 0.05),
    )
    result = critical_path.run(TINY, schedule=tiny_peer)
    assert result.btp_infra.ok, result.btp_infra.error
    assert result.peer is not None and result.peer.ok, result.peer.error if result.peer else None
    for run in (result.btp_infra, result.peer):
        assert run.objects == {"entitlement": 1, "admin binding": 1, "instance": 1, "binding": 1}
        assert run.calls is not None and run.calls.writes == 4  # PUT, 3 POSTs
    assert set(result.btp_infra.steps) == set(critical_path.STEP_LATENCY)
    assert "wall ÷ sum of latencies" in critical_path.markdown(result, "cmd")


def test_api_economy_core() -> None:
    result = api_economy.run(TINY)
    assert result.ok, result.errors
    assert result.phases["no-op up"].total == 0
    assert result.phases["refresh"].writes == 0
    assert result.phases["create"].writes == result.phases["destroy"].writes == 4
    assert "| no-op up | 0 | 0 |" in api_economy.markdown(result, "cmd")


def test_fleet_core() -> None:
    result = fleet.run(3, limit=2, window=2.0, latencies=TINY)
    assert result.failures == 0, [o.error for o in result.outcomes]
    assert result.wrong_counts == {}
    assert result.creates == 3
    assert result.bound == pytest.approx(2.0 + TINY.total)
    assert "completion ÷ bound" in fleet.markdown(result, "cmd")


def test_rate_limit_bound() -> None:
    assert rate_limit_bound(100, 50, 60.0, 4.5) == pytest.approx(64.5)
    assert rate_limit_bound(50, 50, 60.0, 4.5) == pytest.approx(4.5)
    assert rate_limit_bound(101, 50, 60.0, 0.0) == pytest.approx(120.0)


def test_plan_scale_core() -> None:
    measured = plan_scale.measure(2)
    assert (measured.stacks, measured.exit_code) == (2, 0)
    assert measured.resources > 0
    assert "Linear fit" in run_all.plan_scale_markdown([measured, plan_scale.measure(3)], "cmd")


def test_results_sections_are_rewritten_in_place() -> None:
    text = "# R\n\n## A\n\nnotes before\n<!-- begin: a -->\nold\n<!-- end: a -->\nnotes after\n"
    section = run_all.Section("a", "A", "new\n", True)
    assert run_all.rewrite(text, section) == text.replace("old", "new")
    appended = run_all.rewrite(text, run_all.Section("b", "B title", "body\n", True))
    assert appended.endswith("## B title\n\n<!-- begin: b -->\nbody\n<!-- end: b -->\n")
    assert run_all.linear_fit([(1, 3.0), (2, 5.0), (3, 7.0)]) == pytest.approx((1.0, 2.0, 1.0))
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    for name in run_all.BENCHMARKS:
        assert f"<!-- begin: {name} -->" in results and f"<!-- end: {name} -->" in results


def test_reliability_counts_table() -> None:
    from collections import Counter

    from benchmarks import reliability

    counts = reliability.Counts(
        cases=Counter({"test_ownership.py": 10, "test_new.py": 2}), failed=Counter({"test_new.py": 1})
    )
    text = reliability.markdown(counts, "python -m benchmarks.reliability")
    assert "| `test_ownership.py` | ownership scenarios" in text
    assert "| `test_new.py` | other | 2 | 1 |" in text
    assert "| **all** | | **12** | **1** |" in text and not counts.ok
