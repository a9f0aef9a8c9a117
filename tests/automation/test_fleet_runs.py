"""Fleet runs driven through the real ``pulumi.automation`` against the stub ``pulumi``: the exact
invocations, install once, the parallelism bound, failure isolation, and destroy's guards."""

from __future__ import annotations

from pathlib import Path

import pytest

from btp_infra.automation import run_fleet

from .support import Fleet, engine_events, max_overlap, stack_of

PASSPHRASE = "correct horse battery staple"
EVENT_LOG = "<event-log>"


@pytest.fixture(autouse=True)
def passphrase(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)


def normalized(argv: list[str]) -> list[str]:
    """argv with the (temporary) event-log path replaced."""
    out = list(argv)
    if "--event-log" in out:
        out[out.index("--event-log") + 1] = EVENT_LOG
    return out


def test_up_of_a_new_stack_runs_exactly_these_commands(fleet: Fleet) -> None:
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})

    result = run_fleet("up", ["orders"], project_dir=fleet.project)

    assert result.exit_code == 0, result
    assert [normalized(a) for a in fleet.argvs()] == [
        ["version"],
        ["--non-interactive", "install"],
        ["--non-interactive", "stack", "select", "--stack", "orders"],
        ["--non-interactive", "stack", "init", "orders", "--secrets-provider", "passphrase"],
        ["--non-interactive", "up", "--yes", "--skip-preview", "--color", "never", "--suppress-progress",
         "--exec-kind", "auto.local", "--event-log", EVENT_LOG, "--stack", "orders"],
        ["--non-interactive", "stack", "output", "--json", "--stack", "orders"],
        ["--non-interactive", "stack", "output", "--json", "--show-secrets", "--stack", "orders"],
        ["--non-interactive", "stack", "history", "--json", "--page-size", "1", "--page", "1",
         "--stack", "orders"],
    ]  # fmt: skip
    state = fleet.project / ".pulumi-state"
    assert state.is_dir()
    for call in fleet.calls():
        assert call["cwd"] == str(fleet.project)  # the project: Pulumi.yaml, stackConfigDir: stacks
    for call in fleet.calls()[1:]:  # `pulumi version` comes first, before anything is resolved
        assert call["env"]["PULUMI_BACKEND_URL"] == f"file://{state}"
        assert call["env"]["PULUMI_AUTOMATION_API"] == "true"
    outcome = result.stacks[0]
    assert (outcome.stack, outcome.result, outcome.error) == ("orders", "succeeded", None)
    assert outcome.changes == {"create": 5, "update": 0, "replace": 0, "delete": 0, "same": 1}


def test_existing_stack_is_selected_not_created(fleet: Fleet) -> None:
    fleet.add_stack("orders", exists=True, ops={"preview": {"events": engine_events("orders", preview=True)}})

    result = run_fleet("preview", ["orders"], project_dir=fleet.project, install=False)

    assert result.exit_code == 0, result
    assert [normalized(a) for a in fleet.argvs()] == [
        ["version"],
        ["--non-interactive", "stack", "select", "--stack", "orders"],
        ["--non-interactive", "preview", "--color", "never", "--suppress-progress", "--exec-kind",
         "auto.local", "--event-log", EVENT_LOG, "--stack", "orders"],
    ]  # fmt: skip
    assert result.stacks[0].count("create") == 5


def test_refresh_and_destroy_commands(fleet: Fleet) -> None:
    fleet.add_stack("orders", exists=True, ops={"refresh": {"events": engine_events("orders", [])}})
    fleet.add_stack(
        "billing",
        exists=True,
        ops={
            "destroy": {
                "events": engine_events("billing", [("delete", "kubernetes:core/v1:Namespace", "ns")])
            }
        },
    )

    assert run_fleet("refresh", ["orders"], project_dir=fleet.project, install=False).exit_code == 0
    refresh = [normalized(a) for a in fleet.argvs() if stack_of(a) == "orders"]
    assert ["--non-interactive", "refresh", "--skip-preview", "--yes", "--color", "never",
            "--suppress-progress", "--exec-kind", "auto.local", "--event-log", EVENT_LOG,
            "--stack", "orders"] in refresh  # fmt: skip

    result = run_fleet("destroy", ["billing"], project_dir=fleet.project, install=False, yes=True)
    assert result.exit_code == 0, result
    destroy = [normalized(a) for a in fleet.argvs() if stack_of(a) == "billing"]
    assert destroy[:3] == [
        ["--non-interactive", "stack", "select", "--stack", "billing"],
        ["--non-interactive", "stack", "export", "--stack", "billing"],  # protected resources in state?
        ["--non-interactive", "destroy", "--skip-preview", "--yes", "--color", "never", "--suppress-progress",
         "--exec-kind", "auto.local", "--event-log", EVENT_LOG, "--stack", "billing"],
    ]  # fmt: skip
    assert result.stacks[0].count("delete") == 1


def test_refresh_of_a_stack_missing_in_the_backend_fails_alone(fleet: Fleet) -> None:
    fleet.add_stack("orders", exists=True, ops={"refresh": {"events": engine_events("orders", [])}})
    fleet.add_stack("ghost")

    result = run_fleet("refresh", ["ghost", "orders"], project_dir=fleet.project, install=False)

    assert result.exit_code == 1
    ghost, orders = result.stacks
    assert (
        ghost.result == "failed"
        and ghost.error is not None
        and "does not exist in the backend" in ghost.error
    )
    assert orders.result == "succeeded"
    assert not any(a[1:3] == ["stack", "init"] for a in fleet.argvs())  # refresh never creates a stack


def test_dependencies_are_installed_once_before_any_stack(fleet: Fleet) -> None:
    names = [f"t{n}" for n in range(6)]
    for name in names:
        fleet.add_stack(name, ops={"up": {"events": engine_events(name), "sleep": 0.1}})

    result = run_fleet("up", names, project_dir=fleet.project, parallel=3)

    assert result.exit_code == 0, result
    calls = fleet.calls()
    installs = [c for c in calls if c["argv"][1:2] == ["install"]]
    assert len(installs) == 1
    first_stack_call = min(c["start"] for c in calls if stack_of(c["argv"]) is not None)
    assert installs[0]["end"] <= first_stack_call


def test_failed_install_stops_before_any_stack(fleet: Fleet) -> None:
    fleet.install_exit = 1
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})

    result = run_fleet("up", ["orders"], project_dir=fleet.project)

    assert result.exit_code == 1
    assert (
        result.error
        == "pulumi install failed: error: installing dependencies failed: pip exited with status 1"
    )
    assert [stack_of(a) for a in fleet.argvs()] == [None, None]  # version, install


@pytest.mark.parametrize(("parallel", "count"), [(3, 8), (4, 6), (1, 3)])
def test_never_more_than_parallel_stacks_at_once(fleet: Fleet, parallel: int, count: int) -> None:
    names = [f"tenant{n}" for n in range(count)]
    for name in names:
        fleet.add_stack(name, ops={"up": {"events": engine_events(name), "sleep": 0.6}})

    kwargs = {} if parallel == 4 else {"parallel": parallel}
    result = run_fleet("up", names, project_dir=fleet.project, install=False, **kwargs)  # type: ignore[arg-type]

    assert result.exit_code == 0, result
    spans = []
    for name in names:
        calls = fleet.calls_for(name)
        spans.append((min(c["start"] for c in calls), max(c["end"] for c in calls)))
    overlap = max_overlap(spans)
    assert overlap <= parallel
    assert overlap == min(parallel, count)  # and the pool is really used


def test_one_failing_stack_does_not_stop_the_others(fleet: Fleet) -> None:
    fleet.add_stack("a", ops={"up": {"events": engine_events("a"), "sleep": 0.3}})
    failing = engine_events("b", fail_at="tenant-namespace", error='namespaces "b" is forbidden: no RBAC')
    fleet.add_stack("b", ops={"up": {"events": failing, "exit": 1, "stderr": ["error: update failed"]}})
    fleet.add_stack("c", ops={"up": {"events": engine_events("c"), "sleep": 0.3}})

    result = run_fleet("up", ["a", "b", "c"], project_dir=fleet.project, install=False, parallel=2)

    assert result.exit_code == 1
    assert [(s.stack, s.result) for s in result.stacks] == [
        ("a", "succeeded"),
        ("b", "failed"),
        ("c", "succeeded"),
    ]
    b = result.stacks[1]
    assert b.error == 'namespaces "b" is forbidden: no RBAC'  # the first error line, colour tags stripped
    assert b.changes["create"] == 3  # completed before the failure
    assert [s.stack for s in result.failed] == ["b"]
    ups = [a for a in fleet.argvs() if a[1:2] == ["up"]]
    assert sorted(stack_of(a) or "" for a in ups) == ["a", "b", "c"]


def test_failure_without_events_reports_stderr(fleet: Fleet) -> None:
    fleet.add_stack("a", ops={"up": {"events": [{"cancelEvent": {}}], "exit": 255,
                                     "stderr": ["", "error: could not load plugin kubernetes"]}})  # fmt: skip

    result = run_fleet("up", ["a"], project_dir=fleet.project, install=False)

    assert result.exit_code == 1
    assert result.stacks[0].error == "error: could not load plugin kubernetes"


def test_destroy_needs_yes_and_attempts_nothing(fleet: Fleet) -> None:
    fleet.add_stack("orders", exists=True)

    result = run_fleet("destroy", ["orders"], project_dir=fleet.project)

    assert result.exit_code == 2
    assert result.error is not None and "--yes" in result.error
    assert fleet.calls() == []


def test_destroy_refuses_a_protected_tenant_and_destroys_the_others(fleet: Fleet) -> None:
    one_delete = [("delete", "kubernetes:core/v1:Namespace", "tenant-namespace")]
    fleet.add_stack("vault", exists=True, protect=True)
    fleet.add_stack("scratch", exists=True, ops={"destroy": {"events": engine_events("scratch", one_delete)}})

    result = run_fleet("destroy", ["vault", "scratch"], project_dir=fleet.project, yes=True, install=False)

    assert result.exit_code == 1
    vault, scratch = result.stacks
    assert vault.result == "refused"
    assert vault.error is not None
    assert "btp-infra:protect is true" in vault.error
    assert "set btp-infra:protect: false" in vault.error and "btp-infra up --stack vault" in vault.error
    assert fleet.calls_for("vault") == []  # not even selected: nothing is deleted
    assert scratch.result == "succeeded"


def test_destroy_refuses_protected_resources_left_in_state(fleet: Fleet) -> None:
    """protect lifted in the file but not yet applied: the state still protects, so destroy would be
    partial."""
    ns = "urn:pulumi:old::btp-infra::kubernetes:core/v1:Namespace::tenant-namespace"
    fleet.add_stack(
        "old", exists=True, protected_state=[ns], ops={"destroy": {"events": engine_events("old")}}
    )

    result = run_fleet("destroy", ["old"], project_dir=fleet.project, yes=True, install=False)

    assert result.exit_code == 1
    assert result.stacks[0].result == "refused"
    assert "1 protected resource(s) (tenant-namespace" in (result.stacks[0].error or "")
    assert not any(a[1:2] == ["destroy"] for a in fleet.argvs())


def test_destroy_refuses_a_stack_file_that_does_not_validate(fleet: Fleet) -> None:
    fleet.add_stack("broken", exists=True, extra_config="  btp-infra:protect: maybe\n")

    result = run_fleet("destroy", ["broken"], project_dir=fleet.project, yes=True, install=False)

    assert result.stacks[0].result == "refused"
    assert "whether btp-infra:protect is set is unknown" in (result.stacks[0].error or "")
    assert fleet.calls_for("broken") == []


def test_unknown_stack_is_a_usage_error(fleet: Fleet) -> None:
    fleet.add_stack("orders")

    result = run_fleet("up", ["orders", "nope"], project_dir=fleet.project)

    assert result.exit_code == 2
    assert result.error == "no stack file for stack 'nope' (Pulumi.nope.yaml; known stacks: orders)"
    assert [a for a in fleet.argvs()] == [["version"]]


@pytest.mark.parametrize("bad", [0, -1, True])
def test_bad_parallel_is_a_usage_error(fleet: Fleet, bad: int) -> None:
    result = run_fleet("up", [], project_dir=fleet.project, parallel=bad)
    assert result.exit_code == 2 and "parallel" in (result.error or "")
    assert fleet.calls() == []


def test_no_stacks_selected_is_a_clean_no_op(fleet: Fleet) -> None:
    result = run_fleet("up", [], project_dir=fleet.project)
    assert (result.exit_code, result.stacks) == (0, ())
    assert not any(a[-1:] == ["install"] for a in fleet.argvs())


def test_stack_secrets_provider_is_used_and_needs_no_passphrase(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    kms = "awskms://alias/btp-infra?region=eu-central-1"
    fleet.add_stack("orders", secretsprovider=kms, ops={"up": {"events": engine_events("orders")}})

    result = run_fleet("up", ["orders"], project_dir=fleet.project, install=False)

    assert result.exit_code == 0, result
    assert ["--non-interactive", "stack", "init", "orders", "--secrets-provider", kms] in fleet.argvs()


def test_backend_url_from_the_environment_wins(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere"
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{other}")
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})

    result = run_fleet("up", ["orders"], project_dir=fleet.project, install=False)

    assert result.exit_code == 0, result
    assert result.backend == f"file://{other}"
    assert not (fleet.project / ".pulumi-state").exists()
    assert {c["env"]["PULUMI_BACKEND_URL"] for c in fleet.calls()} == {f"file://{other}"}


def test_events_streamed_over_grpc_by_newer_clis(fleet: Fleet) -> None:
    """Pulumi CLIs after 3.205.0 get ``--event-log tcp://...`` and stream the events to the Automation
    API's loopback gRPC server; progress and counts are the same."""
    fleet.version = "3.210.0"
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})
    fleet.add_stack(
        "billing", ops={"up": {"events": engine_events("billing", fail_at="kube", error="no ctx")}}
    )
    fleet.stacks["billing"]["ops"]["up"]["exit"] = 1
    fleet.save()

    result = run_fleet("up", ["orders", "billing"], project_dir=fleet.project, install=False)

    ups = [a for a in fleet.argvs() if a[1:2] == ["up"]]
    assert len(ups) == 2
    assert all(a[a.index("--event-log") + 1].startswith("tcp://127.0.0.1:") for a in ups)
    orders, billing = result.stacks
    assert orders.result == "succeeded" and orders.count("create") == 5
    assert (billing.result, billing.error) == ("failed", "no ctx")
