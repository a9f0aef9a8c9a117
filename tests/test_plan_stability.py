"""An update plan saved by one process must hold in the next: the program registers byte-identical inputs.

deploy.yml saves a Pulumi update plan in one job (``pulumi preview --save-plan``) and applies it in another
(``pulumi up --plan``). The engine compares every resource's inputs with the plan's and refuses the update on
any difference (pulumi/pulumi ``pkg/resource/deploy/plan.go``: ``ResourcePlan.checkGoal`` → ``checkDiff``,
``DeepEqualsIncludeUnknowns``). A dynamic resource's inputs include ``__provider``, the pickled provider
(``sdk/python/lib/pulumi/dynamic/dynamic.py``: ``serialize_provider``): a pickle that differs between two
processes (hash-seed dependent set order, addresses, timestamps) would make every planned update fail. So the
example stacks are rendered in two fresh interpreters with different hash seeds and every registration —
inputs with ``__provider``, options, dependencies — must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STACKS = sorted((ROOT / "examples" / "stacks").glob("Pulumi.*.yaml"))

SCRIPT = """
import json, sys
from pathlib import Path
from btp_infra import program
from btp_infra.config import engine_config
from btp_infra.offline import rendering

path = Path(sys.argv[1])
result = rendering.render(path.stem.split(".", 1)[1], engine_config(path), program.main, preview=True)
assert result.error is None, result.error
print(json.dumps([
    {"urn": r.urn, "inputs": r.inputs, "protect": r.protect, "provider": r.provider, "parent": r.parent,
     # compared as sets by the engine (plan.go: diffURNs, diffPropertyKeys → diffStringSets)
     "dependencies": sorted(r.dependencies),
     "propertyDependencies": {k: sorted(v) for k, v in r.property_dependencies.items()},
     "deleteBeforeReplace": r.delete_before_replace, "customTimeouts": r.custom_timeouts,
     "additionalSecretOutputs": sorted(r.additional_secret_outputs)}
    for r in result.resources
], sort_keys=True, default=repr))
"""


def registrations(stack_file: Path, seed: str) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")} | {"PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(stack_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: list[dict[str, object]] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize("stack_file", STACKS, ids=[p.name for p in STACKS])
def test_two_processes_register_identical_inputs(stack_file: Path) -> None:
    first, second = registrations(stack_file, "1"), registrations(stack_file, "2")
    providers = [r for r in first if "__provider" in r["inputs"]]  # type: ignore[operator]
    assert len(providers) >= 5  # the dynamic BTP resources, each with its pickled provider
    # The plan is keyed by URN (registration order is the engine's concern, not the plan's).
    by_urn = {str(r["urn"]): r for r in second}
    assert sorted(by_urn) == sorted(str(r["urn"]) for r in first)
    for one in first:
        assert one == by_urn[str(one["urn"])], one["urn"]
