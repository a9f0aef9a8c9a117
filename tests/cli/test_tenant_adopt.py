"""``btp-infra tenant adopt`` through Click's CliRunner, against the BTP emulator and the stand-in Kubernetes
API (a kubeconfig file and context, read by the official client), and, for ``--run``, the stub Pulumi CLI.

The written stack file passes ``btp-infra validate``; an existing one is refused in one line before any API
call; ``--dry-run`` writes nothing; ``--json`` carries no credential; ``--run`` previews first and runs
``up`` only when the preview deletes and replaces nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from automation.support import TENANT_STEPS, Fleet, engine_events
from click.testing import CliRunner, Result
from emulator_fixtures import SUBACCOUNT_1
from kube_fixtures import KUBE_CONTEXT, namespace_object, secret_object

from btp_infra.cli import main as cli
from btp_infra.conventions import OPERATOR_SECRET_BASE_NAME
from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.operator_secret import secret_data
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.handmade import HAND_BINDING, HandMade, make_by_hand
from btp_infra.testing.kube_api import KubeApiStandIn

NAMESPACE = "orders"


@pytest.fixture
def cis_env(sb: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    monkeypatch.delenv(ENV_PROFILE, raising=False)


@pytest.fixture
def hand(sb: SandboxServer, kube_api: KubeApiStandIn) -> HandMade:
    made = make_by_hand(sb.cis_service_key(), SUBACCOUNT_1)
    kube_api.seed(namespace_object(NAMESPACE))
    data = secret_data(dict(made.credentials), "client-secret")
    kube_api.seed(secret_object(NAMESPACE, OPERATOR_SECRET_BASE_NAME, data))
    kube_api.clear_log()
    return made


@pytest.fixture
def kubeconfig(tmp_path: Path, kube_api: KubeApiStandIn) -> Path:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(kube_api.kubeconfig(context=KUBE_CONTEXT), encoding="utf-8")
    return path


def adopt(*args: str, kubeconfig: Path) -> Result:
    argv = ["tenant", "adopt", "orders", "--namespace", NAMESPACE, "--subaccount", SUBACCOUNT_1]
    argv += ["--kube-context", KUBE_CONTEXT, "--kubeconfig", str(kubeconfig), *args]
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


def test_adopt_writes_a_stack_file_that_validates(
    project: Path, cis_env: None, hand: HandMade, kube_api: KubeApiStandIn, kubeconfig: Path
) -> None:
    result = adopt(kubeconfig=kubeconfig)

    assert result.exit_code == 0, result.output
    path = project / "stacks" / "Pulumi.orders.yaml"
    text = path.read_text(encoding="utf-8")
    assert f"bindingId: {hand.binding_id}" in text and f"bindingName: {HAND_BINDING}" in text
    assert "btp-infra preview --stack orders" in result.output
    assert kube_api.requests(writes=True) == []
    validated = CliRunner().invoke(cli, ["validate"], catch_exceptions=False)
    assert validated.exit_code == 0, validated.output
    for value in hand.credentials.values():
        assert not (isinstance(value, str) and len(value) > 6 and value in result.output + text)


def test_an_existing_stack_file_is_refused_before_any_api_call(
    project: Path, sb: SandboxServer, cis_env: None, hand: HandMade, kubeconfig: Path
) -> None:
    path = project / "stacks" / "Pulumi.orders.yaml"
    path.write_text("config:\n  btp-infra:namespace: orders\n", encoding="utf-8")
    since = len(sb.calls())
    result = adopt(kubeconfig=kubeconfig)
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert (
        line
        == f"Error: {Path('stacks') / 'Pulumi.orders.yaml'}: exists; valid: a tenant without a stack file "
        "(btp-infra tenant show orders)"
    )
    assert sb.calls()[since:] == []
    assert path.read_text(encoding="utf-8") == "config:\n  btp-infra:namespace: orders\n"


def test_dry_run_writes_nothing_and_json_holds_no_credential(
    project: Path, cis_env: None, hand: HandMade, kubeconfig: Path
) -> None:
    result = adopt("--dry-run", "--json", kubeconfig=kubeconfig)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["adopt"]["instanceId"] == hand.instance_id
    assert document["adopt"]["import"] == ["namespace", "secret"]
    assert document["file"] is None
    assert not (project / "stacks" / "Pulumi.orders.yaml").exists()
    assert str(hand.credentials["clientid"]) not in result.output
    assert str(hand.credentials["clientsecret"]) not in result.output


def test_a_refusal_is_one_line(
    project: Path, cis_env: None, sb: SandboxServer, kube_api: KubeApiStandIn, kubeconfig: Path
) -> None:
    other = make_by_hand(sb.cis_service_key(), SUBACCOUNT_1)  # the Secret below is not its credentials
    kube_api.seed(namespace_object(NAMESPACE))
    kube_api.seed(secret_object(NAMESPACE, OPERATOR_SECRET_BASE_NAME, {"clientid": "someone-else"}))
    result = adopt(kubeconfig=kubeconfig)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "Error: secret orders/sap-btp-service-operator: its credentials"
    )
    assert other.instance_id in lines[0]
    assert not (project / "stacks" / "Pulumi.orders.yaml").exists()


def _scenario(fleet: Fleet, preview_steps: list[tuple[str, str, str]]) -> None:
    fleet.stacks["orders"] = {
        "ops": {
            "preview": {"events": engine_events("orders", preview_steps, preview=True)},
            "up": {"events": engine_events("orders", preview_steps)},
        },
        "protected": [],
    }
    fleet.save()


def _ops(fleet: Fleet) -> list[str]:
    """The engine operations the stub ran, in order (``--non-interactive`` and the like come first)."""
    return [next(w for w in a if w in ("preview", "up")) for a in fleet.argvs() if {"preview", "up"} & set(a)]


@pytest.mark.parametrize(
    ("steps", "runs_up"),
    [
        ([("import", "kubernetes:core/v1:Namespace", "tenant-namespace"), *TENANT_STEPS[:2]], True),
        ([("delete", "kubernetes:core/v1:Secret", "tenant-operator-secret")], False),
    ],
    ids=["imports-only", "a-delete"],
)
def test_run_previews_first_and_runs_up_only_without_deletes(
    fleet: Fleet,
    monkeypatch: pytest.MonkeyPatch,
    cis_env: None,
    hand: HandMade,
    kubeconfig: Path,
    steps: list[tuple[str, str, str]],
    runs_up: bool,
) -> None:
    monkeypatch.chdir(fleet.project)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse battery staple")
    _scenario(fleet, steps)
    result = adopt("--run", kubeconfig=kubeconfig)
    assert _ops(fleet) == (["preview", "up"] if runs_up else ["preview"]), result.output
    assert (result.exit_code == 0) is runs_up, result.output
    if not runs_up:
        assert "shows 1 delete; not running up" in result.output
