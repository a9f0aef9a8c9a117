"""``btp-infra destroy`` offboarding a tenant: the real Automation API against the stub ``pulumi``, the
official Kubernetes client against the stand-in API, the BTP emulator for the Service Manager confirmation.

Refused while operator objects exist (nothing destroyed, nothing deleted), ``--wait`` (objects deleted, then
the destroy, then the confirmation with a temporary admin access removed again), ``--force`` (no cluster
contacted, said loudly), a protected tenant never emptied by ``--wait``, an unreachable cluster, leftovers
reported and a tenant object still in Service Manager failing the stack.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from automation.support import Fleet, engine_events
from click.testing import CliRunner, Result
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2, secrets_of
from kube_fixtures import KUBE_CONTEXT, namespace_object, operator_object

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import tenant_labels
from btp_infra.cli import main as cli
from btp_infra.conventions import OPERATOR_API_GROUP, OPERATOR_OFFERING, OPERATOR_PLAN, instance_name
from btp_infra.credentials import ENV_KEY
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.kube_api import KubeApiStandIn

PASSPHRASE = "correct horse battery staple"
ADMIN_ROUTE = "/accounts-service/accounts/v1/subaccounts/{guid}/serviceManagementBinding"


@pytest.fixture(autouse=True)
def in_project(fleet: Fleet, sb: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    monkeypatch.chdir(fleet.project)


def add_tenant(
    fleet: Fleet,
    kube_api: KubeApiStandIn,
    name: str,
    subaccount: str = SUBACCOUNT_1,
    *,
    protect: bool = False,
    kubeconfig: str | None = None,
) -> Path:
    """A tenant stack that exists in the backend, its kubeconfig a file pointing at the stand-in."""
    fleet.add_stack(name, exists=True, ops={"destroy": {"events": engine_events(name, [])}})
    path = fleet.project / f"kubeconfig-{name}.yaml"
    path.write_text(kubeconfig or kube_api.kubeconfig(context=KUBE_CONTEXT), encoding="utf-8")
    stack_file = fleet.project / "stacks" / f"Pulumi.{name}.yaml"
    stack_file.write_text(
        "config:\n"
        f"  btp-infra:namespace: {name}\n"
        f"  btp-infra:subaccountId: {subaccount}\n"
        f"  btp-infra:kubeContext: {KUBE_CONTEXT}\n"
        f"  btp-infra:kubeconfig: {path}\n" + ("  btp-infra:protect: true\n" if protect else ""),
        encoding="utf-8",
    )
    return stack_file


def seed_operator_objects(kube_api: KubeApiStandIn, namespace: str) -> None:
    kube_api.seed(namespace_object(namespace))
    kube_api.seed(operator_object("ServiceBinding", namespace, "db-binding"))
    kube_api.seed(operator_object("ServiceInstance", namespace, "db"))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def destroyed(fleet: Fleet, stack: str) -> bool:
    return any(a[1:2] == ["destroy"] and stack in a for a in fleet.argvs())


def stack_json(result: Result, stack: str) -> dict[str, object]:
    document = json.loads(result.stdout)
    [found] = [s for s in document["stacks"] if s["stack"] == stack]
    assert isinstance(found, dict)
    return found


def admin_bindings(sb: SandboxServer, subaccount: str) -> list[object]:
    return [a for a in sb.state()["admin_bindings"] if a["subaccount"] == subaccount]


def test_refused_while_operator_objects_exist(
    fleet: Fleet, kube_api: KubeApiStandIn, sb: SandboxServer
) -> None:
    add_tenant(fleet, kube_api, "orders")
    seed_operator_objects(kube_api, "orders")

    result = run("destroy", "--stack", "orders", "--yes", "--json")

    assert result.exit_code == 1
    outcome = stack_json(result, "orders")
    assert outcome["result"] == "refused"
    error = str(outcome["error"])
    assert "destroy refused: 2 SAP BTP service operator object(s) still in namespace orders" in error
    assert "ServiceBinding/db-binding, ServiceInstance/db" in error and "--wait" in error
    offboard = outcome["offboard"]
    assert isinstance(offboard, dict) and offboard["mode"] == "refuse"
    assert [o["name"] for o in offboard["operatorObjects"]] == ["db-binding", "db"]
    assert not destroyed(fleet, "orders")
    assert kube_api.requests(writes=True) == []
    assert "still in the namespace: ServiceBinding orders/db-binding" in result.stderr  # the listing


def test_wait_deletes_them_destroys_and_confirms(
    fleet: Fleet, kube_api: KubeApiStandIn, sb: SandboxServer
) -> None:
    add_tenant(fleet, kube_api, "orders")
    seed_operator_objects(kube_api, "orders")
    kube_api.operator.auto = True  # the operator reconciles after every request

    result = run("destroy", "--stack", "orders", "--yes", "--json", "--wait", "--wait-timeout", "1m")

    assert result.exit_code == 0, result.output
    outcome = stack_json(result, "orders")
    assert outcome["result"] == "succeeded"
    offboard = outcome["offboard"]
    assert isinstance(offboard, dict)
    assert offboard["deleted"] == ["ServiceBinding/db-binding", "ServiceInstance/db"]
    deletes = [(r.resource, r.name) for r in kube_api.requests("DELETE")]
    assert deletes == [("servicebindings", "db-binding"), ("serviceinstances", "db")]
    assert kube_api.objects("serviceinstances", "orders", group=OPERATOR_API_GROUP) == []
    assert destroyed(fleet, "orders")
    assert offboard["subaccount"] == {
        "id": SUBACCOUNT_1,
        "gone": False,
        "adminAccess": "temporary",
        "operatorAccessRemaining": [],
        "adoptedKept": [],
        "leftovers": [],
    }
    methods = [c["method"] for c in sb.calls() if c["route"] == ADMIN_ROUTE]
    assert methods == ["GET", "POST", "DELETE"] and admin_bindings(sb, SUBACCOUNT_1) == []
    assert "confirmed through Service Manager" in result.stderr
    for secret in (*secrets_of(sb), kube_api.token, PASSPHRASE):
        assert secret not in result.output


def test_force_skips_the_check_loudly(fleet: Fleet, kube_api: KubeApiStandIn, sb: SandboxServer) -> None:
    add_tenant(fleet, kube_api, "orders")
    seed_operator_objects(kube_api, "orders")

    result = run("destroy", "--stack", "orders", "--yes", "--json", "--force")

    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("WARNING: --force:")
    assert "FORCED (--force)" in result.stderr
    offboard = stack_json(result, "orders")["offboard"]
    assert isinstance(offboard, dict) and offboard["check"] == "skipped"
    assert destroyed(fleet, "orders")
    assert kube_api.requests() == []  # the cluster was not contacted at all


def test_wait_never_empties_a_protected_tenant(
    fleet: Fleet, kube_api: KubeApiStandIn, sb: SandboxServer
) -> None:
    add_tenant(fleet, kube_api, "orders", protect=True)
    seed_operator_objects(kube_api, "orders")

    result = run("destroy", "--stack", "orders", "--yes", "--json", "--wait")

    assert result.exit_code == 1
    outcome = stack_json(result, "orders")
    assert outcome["result"] == "refused" and "protect is true" in str(outcome["error"])
    assert kube_api.requests() == []  # refused before the check: the instances stay
    assert not destroyed(fleet, "orders")


def test_an_unreachable_cluster_fails_before_any_destroy(
    fleet: Fleet, kube_api: KubeApiStandIn, sb: SandboxServer
) -> None:
    with socket.socket() as closed:  # a port bound but never listened on: connections are refused
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        dead = kube_api.kubeconfig(context=KUBE_CONTEXT).replace(kube_api.url, dead_url)
        add_tenant(fleet, kube_api, "orders", kubeconfig=dead)

        result = run("destroy", "--stack", "orders", "--yes", "--json", "--wait")

    assert result.exit_code == 1
    outcome = stack_json(result, "orders")
    assert outcome["result"] == "failed"
    assert "cannot reach the Kubernetes API" in str(outcome["error"])
    assert "nothing was destroyed" in str(outcome["error"])
    assert not destroyed(fleet, "orders")


def test_a_namespace_already_gone_proceeds(fleet: Fleet, kube_api: KubeApiStandIn, sb: SandboxServer) -> None:
    add_tenant(fleet, kube_api, "orders")

    result = run("destroy", "--stack", "orders", "--yes")

    assert result.exit_code == 0, result.output
    assert destroyed(fleet, "orders")
    assert "namespace orders does not exist" in result.output


def sm_scene(sb: SandboxServer, subaccount: str) -> ServiceManagerClient:
    key = CisServiceKey.parse(sb.cis_service_key(), source="sandbox")
    with EntitlementsClient(key) as entitlements:
        entitlements.assign(subaccount, OPERATOR_OFFERING, OPERATOR_PLAN)
    with AccountsClient(key) as accounts:
        creds, _ = accounts.ensure_service_management_binding(subaccount)
    return ServiceManagerClient(creds)


def test_leftovers_are_reported_and_a_tenant_object_fails_the_stack(
    fleet: Fleet, kube_api: KubeApiStandIn, sb: SandboxServer
) -> None:
    add_tenant(fleet, kube_api, "orders", SUBACCOUNT_1)
    add_tenant(fleet, kube_api, "billing", SUBACCOUNT_2)
    with sm_scene(sb, SUBACCOUNT_1) as sm:
        sm.create_instance("hand-made", offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN)
    with sm_scene(sb, SUBACCOUNT_2) as sm:
        labels = tenant_labels("billing")
        sm.create_instance(
            instance_name("billing"), offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN, labels=labels
        )

    result = run("destroy", "--stack", "orders", "--stack", "billing", "--yes", "--json")

    assert result.exit_code == 1
    orders = stack_json(result, "orders")
    assert orders["result"] == "succeeded"
    subaccount = orders["offboard"]["subaccount"]  # type: ignore[index]
    assert subaccount["adminAccess"] == "kept"
    assert [(o["kind"], o["name"], o["plan"]) for o in subaccount["leftovers"]] == [
        ("instance", "hand-made", OPERATOR_PLAN)
    ]
    billing = stack_json(result, "billing")
    assert billing["result"] == "failed"
    still = f"Service Manager still holds the tenant's instance {instance_name('billing')}"
    assert still in str(billing["error"])
    assert "left in subaccount" in result.stderr and "NOT GONE" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--wait", "--force"), "use either --wait or --force, not both"),
        (("--wait-timeout", "5m"), "--wait-timeout needs --wait"),
        (("--wait", "--wait-timeout", "soon"), "'soon' is not a duration"),
        (("--wait", "--wait-timeout", "48h"), "is longer than 24h"),
    ],
)
def test_usage_errors_run_nothing(
    fleet: Fleet, kube_api: KubeApiStandIn, args: tuple[str, ...], message: str
) -> None:
    add_tenant(fleet, kube_api, "orders")

    result = run("destroy", "--stack", "orders", "--yes", *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert fleet.calls() == [] and kube_api.requests() == []
