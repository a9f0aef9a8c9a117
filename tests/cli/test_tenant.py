"""``btp-infra tenant add | list | show | remove`` through Click's CliRunner: every option reaches the file,
every refusal is one line per problem and leaves no file, and the backend is asked (through the stub
``pulumi`` of tests/automation) only where the command needs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from automation.support import GUIDS, Fleet
from click.testing import CliRunner, Result

from btp_infra.cli import main as cli
from btp_infra.config import load_stack_file

PASSPHRASE = "correct horse battery staple"
SUB = [f"3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a{n:02x}" for n in range(16)]


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def add(name: str, namespace: str, subaccount: str, *extra: str) -> Result:
    return run("tenant", "add", name, "--namespace", namespace, "--subaccount", subaccount, *extra)


def stack_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "stacks").iterdir())


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# ---- add ----------------------------------------------------------------------------------------


def test_add_writes_every_option(project: Path) -> None:
    result = add(
        "orders",
        "orders",
        SUB[0],
        "--kube-context", "kyma-prod",
        "--region", "eu10",
        "--credential-type", "x509",
        "--x509", "validity=30d", "--x509", "keyLength=4096",
        "--secret-placement", "management",
        "--management-namespace", "btp-operators",
        "--entitlement", "destination/lite", "--entitlement", "hana-cloud/hana=2",
        "--label", "team=orders", "--label", "cost-center=4711",
        "--quota", "pods=20", "--quota", "limits.memory=4Gi",
        "--limit-range", "default.cpu=500m", "--limit-range", "defaultRequest.cpu=100m",
        "--network-policy", "default-deny",
        "--mtls",
        "--protect",
        "--take-ownership",
        "--kubeconfig", "~/.kube/kyma-prod.yaml",
        "--cluster-identifier", "kyma-prod-eu10",
        "--keyring-profile", "global-account",
        "--timeout", "instance=1h",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    path = project / "stacks" / "Pulumi.orders.yaml"
    assert f"wrote {Path('stacks') / 'Pulumi.orders.yaml'}" in result.stdout or str(path) in result.stdout
    assert "btp-infra up --stack orders" in result.stdout
    config = load_stack_file(path)
    assert (config.namespace, config.subaccount_id, config.kube_context) == ("orders", SUB[0], "kyma-prod")
    assert (config.region, config.credential_type, config.secret_placement) == ("eu10", "x509", "management")
    assert config.management_namespace == "btp-operators"
    assert [(e.service, e.plan) for e in config.entitlements] == [
        ("destination", "lite"),
        ("hana-cloud", "hana"),
    ]
    assert config.labels == {"team": "orders", "cost-center": "4711"}
    assert (config.mtls, config.protect, config.take_ownership) == (True, True, True)
    assert config.kube_cluster_identifier == "kyma-prod-eu10"
    assert config.keyring_profile == "global-account"
    text = path.read_text(encoding="utf-8")
    assert "btp-infra:networkPolicy: default-deny" in text
    assert "keyLength: 4096" in text


def test_add_stack_name_and_negated_flags(project: Path) -> None:
    result = add("orders", "orders", SUB[0], "--kube-context", "k", "--stack", "orders-prod", "--no-mtls",
                 "--no-protect")  # fmt: skip
    assert result.exit_code == 0, result.output
    config = load_stack_file(project / "stacks" / "Pulumi.orders-prod.yaml")
    assert (config.mtls, config.protect) == (False, False)
    assert stack_files(project) == ["Pulumi.orders-prod.yaml"]


def test_add_with_stacks_dir(tmp_path: Path, clean_env: None) -> None:
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    result = add("a", "a", SUB[0], "--kube-context", "k", "--stacks-dir", str(directory))
    assert result.exit_code == 0, result.output
    assert (directory / "Pulumi.a.yaml").is_file()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--label", "team"), "--label: 'team' is not KEY=VALUE"),
        (("--quota", "=1"), "--quota: '=1' is not KEY=VALUE"),
        (("--timeout", "instance"), "--timeout: 'instance' is not KEY=VALUE"),
        (("--entitlement", "destination"), "--entitlement: 'destination' is not SERVICE/PLAN"),
        (("--limit-range", "cpu=1"), "--limit-range: 'cpu' is not SECTION.RESOURCE=QUANTITY"),
        (("--x509", "keyLength=big"), "--x509: keyLength='big' is not a number of bits"),
        (("--label", "a=1", "--label", "a=2"), "--label: 'a' is given twice"),
    ],
)
def test_add_bad_option_syntax_is_one_line_and_writes_nothing(
    project: Path, extra: tuple[str, ...], expected: str
) -> None:
    result = add("orders", "orders", SUB[0], "--kube-context", "k", *extra)
    assert result.exit_code == 1
    assert error_lines(result) == [f"Error: {expected}" + error_lines(result)[0].split(expected, 1)[1]]
    assert expected in result.stderr
    assert stack_files(project) == []


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("orders", "orders", "not-a-guid", "--kube-context", "k"), "subaccountId"),
        (("orders", "Orders_NS", SUB[0], "--kube-context", "k"), "namespace"),
        (("orders", "orders", SUB[0]), "kubeContext"),
        (("orders", "orders", SUB[0], "--kube-context", "k", "--region", "mars1"), "region"),
        (("orders", "orders", SUB[0], "--kube-context", "k", "--network-policy", "open"), "networkPolicy"),
        (("orders", "orders", SUB[0], "--kube-context", "k", "--timeout", "instance=soon"), "timeouts"),
        (("Bad/Name", "orders", SUB[0], "--kube-context", "k"), ""),
    ],
)
def test_add_invalid_value_is_refused_and_writes_nothing(
    project: Path, args: tuple[str, ...], key: str
) -> None:
    result = add(*args)
    assert result.exit_code == 1
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ")
    assert key in lines[0]
    assert "Traceback" not in result.output
    assert stack_files(project) == []


def test_add_kubeconfig_content_is_refused_without_echoing_it(project: Path) -> None:
    content = "apiVersion: v1\nusers:\n- name: admin\n  user:\n    token: s3cr3t-kube-token\n"
    result = add("orders", "orders", SUB[0], "--kube-context", "k", "--kubeconfig", content)
    assert result.exit_code == 1
    assert "is a kubeconfig's content, not a path" in result.stderr
    assert "s3cr3t-kube-token" not in result.output
    assert stack_files(project) == []


def test_conflicting_adds_are_refused_and_leave_no_file(project: Path) -> None:
    assert add("orders", "orders", SUB[0], "--kube-context", "kyma").exit_code == 0
    before = (project / "stacks" / "Pulumi.orders.yaml").read_bytes()

    same_namespace = add("orders2", "orders", SUB[1], "--kube-context", "kyma")
    same_subaccount = add("billing", "billing", SUB[0], "--kube-context", "other")
    same_stack = add("orders", "orders-b", SUB[2], "--kube-context", "kyma")

    for result, needle in (
        (same_namespace, "namespace"),
        (same_subaccount, "subaccountId"),
        (same_stack, "already exists"),
    ):
        assert result.exit_code == 1
        assert needle in result.stderr
        assert "Traceback" not in result.output
    assert "Pulumi.orders.yaml" in same_namespace.stderr  # names the other file
    assert stack_files(project) == ["Pulumi.orders.yaml"]
    assert (project / "stacks" / "Pulumi.orders.yaml").read_bytes() == before
    # the same namespace on another cluster is fine
    assert add("orders-eu", "orders", SUB[3], "--kube-context", "kyma-eu").exit_code == 0


def test_missing_stacks_dir_is_one_line(tmp_path: Path, clean_env: None) -> None:
    result = add("a", "a", SUB[0], "--kube-context", "k", "--stacks-dir", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1
    assert "is not a directory" in result.stderr


# ---- add --init ---------------------------------------------------------------------------------


def test_init_without_pulumi_cli_keeps_the_file_and_exits_2(project: Path, no_pulumi: None) -> None:
    result = add("orders", "orders", SUB[0], "--kube-context", "k", "--init")

    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert "the Pulumi CLI is not installed" in lines[0]
    assert "https://www.pulumi.com/docs/install/" in lines[0]
    assert "create the stack later with: btp-infra up --stack orders" in lines[0]
    assert stack_files(project) == ["Pulumi.orders.yaml"]


def test_init_creates_the_stack_through_the_automation_api(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.chdir(fleet.project)

    result = add("orders", "orders", GUIDS[40], "--kube-context", "k", "--init")

    assert result.exit_code == 0, result.output
    assert "created stack 'orders' in the backend" in result.stdout
    assert fleet.argvs() == [
        ["version"],
        ["--non-interactive", "stack", "init", "orders", "--secrets-provider", "passphrase"],
    ]
    state = fleet.project / ".pulumi-state"
    assert (state / ".pulumi" / "stacks" / "btp-infra" / "orders.json").is_file()
    for call in fleet.calls():
        assert PASSPHRASE not in json.dumps(call["argv"])
        assert call["cwd"] == str(fleet.project)
    assert fleet.calls()[1]["env"]["PULUMI_BACKEND_URL"] == f"file://{state}"
    assert PASSPHRASE not in result.output

    again = add("orders-2", "orders-2", GUIDS[41], "--kube-context", "k", "--init", "--stack", "orders")
    assert again.exit_code == 1  # the stack file exists: refused before any backend call
    assert len(fleet.argvs()) == 2


def test_init_without_passphrase_is_one_line_and_keeps_the_file(
    fleet: Fleet, kr: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fleet.project)  # `kr`: a real (plaintext, test-only) keyring without the passphrase

    result = add("orders", "orders", GUIDS[40], "--kube-context", "k", "--init")

    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert "PULUMI_CONFIG_PASSPHRASE" in lines[0]
    assert "btp-infra up --stack orders" in lines[0]
    assert (fleet.project / "stacks" / "Pulumi.orders.yaml").is_file()
    assert fleet.argvs() == [["version"]]


def test_init_of_a_stack_already_in_the_backend(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.chdir(fleet.project)
    state = fleet.project / ".pulumi-state" / ".pulumi" / "stacks" / "btp-infra"
    state.mkdir(parents=True)
    (state / "orders.json").write_text(json.dumps({"secretsProvider": "passphrase", "protected": []}))

    result = add("orders", "orders", GUIDS[40], "--kube-context", "k", "--init")

    assert result.exit_code == 0, result.output
    assert "already exists in the backend" in result.stdout


# ---- list ---------------------------------------------------------------------------------------


def test_list_empty(project: Path) -> None:
    result = run("tenant", "list")
    assert result.exit_code == 0
    assert result.stdout.startswith("no tenant stacks in")
    assert json.loads(run("tenant", "list", "--json").stdout) == []


def test_list_table_and_json(project: Path) -> None:
    assert (
        add("orders", "orders", SUB[0], "--kube-context", "kyma", "--protect", "--region", "eu10").exit_code
        == 0
    )
    assert add("billing", "billing", SUB[1], "--kube-context", "kyma").exit_code == 0
    (project / "stacks" / "Pulumi.broken.yaml").write_text("config:\n  btp-infra:namespace: x\n")

    table = run("tenant", "list")
    assert table.exit_code == 0
    for text in ("orders", "billing", "broken", SUB[0], SUB[1], "invalid:", "eu10", "stack", "namespace"):
        assert text in table.stdout, text

    rows = json.loads(run("tenant", "list", "--json").stdout)
    assert [r["stack"] for r in rows] == ["billing", "broken", "orders"]
    orders = rows[2]
    assert (orders["namespace"], orders["subaccountId"], orders["protect"]) == ("orders", SUB[0], True)
    assert rows[1]["error"] and rows[1]["namespace"] is None


# ---- show ---------------------------------------------------------------------------------------


def test_show_without_a_backend_still_shows_the_config(project: Path, no_pulumi: None) -> None:
    assert add("orders", "orders", SUB[0], "--kube-context", "kyma").exit_code == 0

    result = run("tenant", "show", "orders")

    assert result.exit_code == 0, result.output
    assert "stack: orders" in result.stdout
    assert f'subaccountId: "{SUB[0]}"' in result.stdout
    outputs = [line for line in result.stdout.splitlines() if line.startswith("outputs:")]
    assert len(outputs) == 1
    assert "unavailable (the Pulumi CLI is not installed" in outputs[0]

    shown = json.loads(run("tenant", "show", "orders", "--json").stdout)
    assert shown["stack"] == "orders"
    assert shown["config"]["namespace"] == "orders"
    assert shown["outputs"] is None
    assert "not installed" in shown["outputsUnavailable"]


def test_show_redacts_secrets(project: Path, no_pulumi: None) -> None:
    secret = '{"uaa": {"clientsecret": "very-secret-value"}}'
    path = project / "stacks" / "Pulumi.orders.yaml"
    path.write_text(
        "config:\n  btp-infra:namespace: orders\n"
        f"  btp-infra:subaccountId: {SUB[0]}\n  btp-infra:kubeContext: k\n"
        f"  btp-infra:cisServiceKey:\n    secure: {json.dumps(secret)}\n"
    )
    result = run("tenant", "show", "orders")
    assert "very-secret-value" not in result.output
    assert json.dumps(secret) not in result.output


def test_show_with_a_backend(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.chdir(fleet.project)
    fleet.add_stack("orders", exists=True)
    fleet.add_stack("billing")  # a file, no stack in the backend

    shown = run("tenant", "show", "orders")
    assert shown.exit_code == 0, shown.output
    assert "outputs: none" in shown.stdout
    assert ["--non-interactive", "stack", "output", "--json", "--stack", "orders"] in fleet.argvs()
    assert not any("--show-secrets" in argv for argv in fleet.argvs())

    missing = run("tenant", "show", "billing", "--json")
    assert missing.exit_code == 0
    document = json.loads(missing.stdout)
    assert document["outputs"] is None
    assert "not in the backend yet" in document["outputsUnavailable"]


def test_show_unknown_tenant(project: Path) -> None:
    assert add("orders", "orders", SUB[0], "--kube-context", "kyma").exit_code == 0
    result = run("tenant", "show", "nope")
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1
    assert "no stack file for tenant 'nope'" in result.stderr and "orders" in result.stderr


# ---- remove -------------------------------------------------------------------------------------


def test_remove_without_a_backend_refuses_unless_forced(project: Path, no_pulumi: None) -> None:
    assert add("orders", "orders", SUB[0], "--kube-context", "kyma").exit_code == 0

    refused = run("tenant", "remove", "orders")
    assert refused.exit_code == 1
    assert len(error_lines(refused)) == 1
    assert "cannot tell whether stack 'orders' still has resources" in refused.stderr
    assert "backend not asked: the Pulumi CLI is not installed" in refused.stderr
    assert stack_files(project) == ["Pulumi.orders.yaml"]

    forced = run("tenant", "remove", "orders", "--force")
    assert forced.exit_code == 0
    assert "removed" in forced.stdout
    assert stack_files(project) == []


def test_remove_asks_the_backend(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.chdir(fleet.project)
    fleet.add_stack("busy", exists=True, protected_state=["urn:pulumi:busy::btp-infra::ns::tenant-namespace"])
    fleet.add_stack("empty", exists=True)
    fleet.add_stack("never")  # never created in the backend

    busy = run("tenant", "remove", "busy")
    assert busy.exit_code == 1
    assert "still has resources" in busy.stderr
    assert ["--non-interactive", "stack", "export", "--stack", "busy"] in fleet.argvs()
    assert run("tenant", "remove", "empty").exit_code == 0
    assert run("tenant", "remove", "never").exit_code == 0
    assert stack_files(fleet.project) == ["Pulumi.busy.yaml"]
    assert not any("--show-secrets" in argv for argv in fleet.argvs())
    assert run("tenant", "remove", "busy", "--force").exit_code == 0
    assert stack_files(fleet.project) == []


def test_remove_unknown_tenant(project: Path) -> None:
    result = run("tenant", "remove", "nope", "--force")
    assert result.exit_code == 1
    assert "no stack file for tenant 'nope'" in result.stderr


def test_list_of_a_missing_directory_is_an_error(tmp_path: Path, clean_env: None) -> None:
    result = run("tenant", "list", "--stacks-dir", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert "is not a directory" in result.stderr


def test_take_ownership_is_written_only_when_given(project: Path) -> None:
    assert add("orders", "orders", SUB[0], "--kube-context", "k").exit_code == 0
    assert "btp-infra:takeOwnership:" not in (project / "stacks" / "Pulumi.orders.yaml").read_text()
