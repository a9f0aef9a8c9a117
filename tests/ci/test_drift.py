"""``btp-infra ci drift-issue``: one issue per drifting tenant, opened, updated and closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from btp_infra.ci.drift import LABEL
from btp_infra.cli import main

from .fake_github import State
from .test_comment import fleet_doc, write


def changes(n: int = 0) -> dict[str, int]:
    return {"create": 0, "update": n, "replace": 0, "delete": 0, "same": 3}


def run(tmp_path: Path, doc: dict[str, Any], *extra: str) -> Any:
    path = write(tmp_path / "drift.json", doc)
    return CliRunner().invoke(
        main, ["ci", "drift-issue", "--preview", str(path), "--stacks-dir", str(tmp_path), *extra]
    )


def test_plan_without_post(tmp_path: Path) -> None:
    doc = fleet_doc(
        ("orders", "failed", changes(2)),
        ("hr", "succeeded", changes()),
        ("x", "failed", changes()),
        error="error: no changes were expected but changes were proposed",
    )
    result = run(tmp_path, doc)
    assert result.exit_code == 0, result.output
    plans = {p["stack"]: p for p in json.loads(result.output)}
    assert {s: p["state"] for s, p in plans.items()} == {"orders": "drift", "hr": "clean", "x": "unknown"}
    assert plans["orders"]["title"] == "Drift: tenant orders"
    assert "| `orders` | 0 | 2 | 0 | 0 |" in plans["orders"]["body"]


def test_open_update_close(tmp_path: Path, github: State) -> None:
    github.add_issue("Drift: tenant other", "x", [LABEL])
    github.add_issue("Drift: tenant unrelated-label", "x", ["bug"])
    result = run(
        tmp_path,
        fleet_doc(("orders", "failed", changes(1)), ("hr", "succeeded", changes())),
        "--post",
        "--repo",
        "o/r",
    )
    assert result.exit_code == 0, result.output
    done = {d["stack"]: d for d in json.loads(result.output)}
    assert done["orders"]["action"] == "created" and done["hr"]["action"] == "none"
    issue = github.issues[done["orders"]["issue"]]
    assert issue["title"] == "Drift: tenant orders" and issue["labels"] == [{"name": LABEL}]
    assert "| 1 |" in issue["body"]

    result = run(tmp_path, fleet_doc(("orders", "failed", changes(4))), "--post", "--repo", "o/r")
    assert json.loads(result.output)[0]["action"] == "updated"
    assert "| 4 |" in issue["body"] and len(github.issues) == 3

    result = run(tmp_path, fleet_doc(("orders", "succeeded", changes())), "--post", "--repo", "o/r")
    assert json.loads(result.output)[0]["action"] == "closed"
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert "clean again" in github.comments[issue["number"]][0]["body"]

    # Drifting again later: a new issue (the closed one is not reopened).
    result = run(tmp_path, fleet_doc(("orders", "failed", changes(1))), "--post", "--repo", "o/r")
    assert json.loads(result.output)[0]["action"] == "created" and len(github.issues) == 4


def test_paging_finds_the_open_issue(tmp_path: Path, github: State) -> None:
    for i in range(5):
        github.add_issue(f"Drift: tenant t{i}", "x", [LABEL])
    result = run(tmp_path, fleet_doc(("t4", "failed", changes(1))), "--post", "--repo", "o/r")
    assert json.loads(result.output)[0] == {"stack": "t4", "state": "drift", "action": "updated", "issue": 5}


def test_post_needs_repo(tmp_path: Path) -> None:
    assert run(tmp_path, fleet_doc(), "--post").exit_code == 2
