"""``btp-infra preview | up | refresh | destroy`` through Click's CliRunner, driving the real
``pulumi.automation`` against the stub ``pulumi`` of tests/automation: the exact invocations, ``--json``,
exit codes, destroy's confirmation, and no secret in argv or output."""

from __future__ import annotations

import json

import pytest
from automation.stub_pulumi import digest
from automation.support import Fleet, engine_events
from click.testing import CliRunner, Result

from btp_infra.cli import main as cli

PASSPHRASE = "correct horse battery staple"
CIS_SECRET = "cis-client-secret-0123456789"
CIS_KEY = json.dumps(
    {
        "endpoints": {"accounts_service_url": "https://accounts.example"},
        "uaa": {"clientid": "sb-cis", "clientsecret": CIS_SECRET, "url": "https://uaa.example"},
    }
)
EVENT_LOG = "<event-log>"


@pytest.fixture(autouse=True)
def in_project(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("BTP_CIS_SERVICE_KEY", CIS_KEY)
    monkeypatch.chdir(fleet.project)


@pytest.fixture(autouse=True)
def no_offboarding_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """These stacks have no cluster and no BTP behind them: the fleet's own behaviour is tested here, the
    offboarding that `destroy` does around each stack in test_destroy_offboard.py."""
    from btp_infra.operations.offboard import OffboardHooks

    monkeypatch.setattr(OffboardHooks, "before", lambda self, ctx: None)
    monkeypatch.setattr(OffboardHooks, "after", lambda self, ctx: None)


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def normalized(argv: list[str]) -> list[str]:
    out = list(argv)
    if "--event-log" in out:
        out[out.index("--event-log") + 1] = EVENT_LOG
    return out


def assert_no_secret(fleet: Fleet, result: Result) -> None:
    for secret in (PASSPHRASE, CIS_SECRET, CIS_KEY):
        assert secret not in result.output
        for call in fleet.calls():
            assert secret not in json.dumps(call["argv"])
    for call in fleet.calls():  # the secrets reached Pulumi through the environment
        assert call["env"].get("PULUMI_CONFIG_PASSPHRASE") == digest(PASSPHRASE)


def test_up_runs_exactly_these_commands(fleet: Fleet) -> None:
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})

    result = run("up", "--stack", "orders")

    assert result.exit_code == 0, result.output
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
    assert all(call["cwd"] == str(fleet.project) for call in fleet.calls())
    assert "orders" in result.stdout and "succeeded" in result.stdout  # the final table
    assert_no_secret(fleet, result)


def test_json_is_the_only_stdout(fleet: Fleet) -> None:
    fleet.add_stack("a", exists=True, ops={"preview": {"events": engine_events("a", preview=True)}})
    fleet.add_stack("b", exists=True, ops={"preview": {"events": engine_events("b", preview=True)}})

    result = run("preview", "--all", "--json", "--parallel", "2")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["version"] == 1 and document["operation"] == "preview" and document["exitCode"] == 0
    assert [s["stack"] for s in document["stacks"]] == ["a", "b"]
    assert document["stacks"][0]["changes"]["create"] == 5
    assert document["totals"] == {"stacks": 2, "succeeded": 2, "failed": 0, "refused": 0}
    assert document["backend"] == f"file://{fleet.project / '.pulumi-state'}"
    assert "succeeded" in result.stderr  # progress and the table went to stderr
    assert_no_secret(fleet, result)


def test_a_failing_stack_exits_1_and_the_others_finish(fleet: Fleet) -> None:
    fleet.add_stack("a", exists=True, ops={"up": {"events": engine_events("a")}})
    failing = engine_events("b", fail_at="tenant-namespace", error=f"forbidden {CIS_SECRET}")
    fleet.add_stack("b", exists=True, ops={"up": {"events": failing, "exit": 255}})

    result = run("up", "--stack", "a", "--stack", "b", "--json")

    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [(s["stack"], s["result"]) for s in document["stacks"]] == [("a", "succeeded"), ("b", "failed")]
    assert "forbidden [secret]" in document["stacks"][1]["error"]
    assert_no_secret(fleet, result)


def test_refresh(fleet: Fleet) -> None:
    fleet.add_stack("a", exists=True, ops={"refresh": {"events": engine_events("a", [])}})
    result = run("refresh", "--stack", "a")
    assert result.exit_code == 0, result.output
    assert any(a[1:2] == ["refresh"] for a in fleet.argvs())


def test_destroy_asks_first(fleet: Fleet) -> None:
    fleet.add_stack("a", exists=True, ops={"destroy": {"events": engine_events("a", [])}})

    declined = run("destroy", "--stack", "a", "--json", input="n\n")
    assert declined.exit_code == 2
    assert "destroy every resource of 1 stack(s): a?" in declined.stderr
    assert json.loads(declined.stdout)["error"].startswith("destroy deletes every resource")
    assert fleet.argvs() == []  # nothing attempted, not even `pulumi version`

    no_answer = run("destroy", "--stack", "a")  # end of input: not confirmed
    assert no_answer.exit_code == 2
    assert fleet.argvs() == []

    confirmed = run("destroy", "--stack", "a", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert any(a[1:2] == ["destroy"] for a in fleet.argvs())


def test_destroy_yes_does_not_ask_and_refuses_protected(fleet: Fleet) -> None:
    fleet.add_stack("a", exists=True, ops={"destroy": {"events": engine_events("a", [])}})
    fleet.add_stack("p", exists=True, protect=True)

    result = run("destroy", "--all", "--yes", "--json")

    assert result.exit_code == 1
    assert "destroy every resource of" not in result.output  # not asked
    document = json.loads(result.stdout)
    assert [(s["stack"], s["result"]) for s in document["stacks"]] == [("a", "succeeded"), ("p", "refused")]
    assert not any(a[1:2] == ["destroy"] and "p" in a for a in fleet.argvs())


def test_no_pulumi_cli_is_one_line_exit_2(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet.add_stack("a")
    monkeypatch.setenv("PATH", str(fleet.root / "nothing-here"))

    result = run("up", "--stack", "a")

    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert (
        "the Pulumi CLI is not installed" in lines[0] and "https://www.pulumi.com/docs/install/" in lines[0]
    )
    assert fleet.calls() == []


def test_too_old_pulumi_cli_is_one_line_exit_2(fleet: Fleet) -> None:
    fleet.version = "3.100.0"
    fleet.add_stack("a")
    result = run("up", "--stack", "a", "--json")
    assert result.exit_code == 2
    assert "older than this project requires" in json.loads(result.stdout)["error"]
    assert fleet.argvs() == [["version"]]


def test_unknown_stack_exits_2(fleet: Fleet) -> None:
    fleet.add_stack("a")
    result = run("up", "--stack", "nope")
    assert result.exit_code == 2
    assert "no stack file for stack 'nope'" in result.output and "known stacks: a" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("up",),
        ("up", "--stack", "a", "--all"),
        ("up", "--all", "--parallel", "0"),
        ("preview", "--all", "--parallel", "x"),
    ],
)
def test_usage_errors_exit_2_and_run_nothing(fleet: Fleet, args: tuple[str, ...]) -> None:
    fleet.add_stack("a")
    result = run(*args)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr
    assert fleet.calls() == []


def test_all_with_no_stacks_is_a_no_op(fleet: Fleet) -> None:
    result = run("up", "--all")
    assert result.exit_code == 0
    assert "no stacks selected" in result.output


def test_destroy_all_with_no_stacks_asks_nothing(fleet: Fleet) -> None:
    result = run("destroy", "--all")
    assert result.exit_code == 0
    assert "destroy every resource of" not in result.output
