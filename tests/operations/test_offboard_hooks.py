"""``OffboardHooks`` with stack secrets: a kubeconfig or cis key stored as a Pulumi secret in the stack file
is read decrypted through the stack (the Automation API's ``Stack.get_config``, i.e. ``pulumi config get``,
which decrypts ``secure:`` values), never guessed from the environment; one that cannot be decrypted fails
the stack in one line without any value, before anything is destroyed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from emulator_fixtures import SUBACCOUNT_1
from kube_fixtures import KUBE_CONTEXT, namespace_object, operator_object
from pulumi.automation import ConfigValue, OutputValue

from btp_infra.automation.hooks import HookContext, StackFailed, StackRefused
from btp_infra.automation.model import StackTarget
from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.conventions import CONFIG_CIS_KEY, OPERATOR_OFFERING, OPERATOR_PLAN, config_key, instance_name
from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.operations.offboard import OffboardHooks
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.kube_api import KubeApiStandIn

CIPHERTEXT = "v1:c2VjcmV0Y2lwaGVy:UNIQUECIPHERTEXTMARKER"


class FakeStack:
    """What the hooks use of an Automation API stack: ``get_config`` (decrypted values), ``outputs``."""

    def __init__(
        self, values: dict[str, str], *, broken: bool = False, adopted: list[str] | None = None
    ) -> None:
        self.values = values
        self.broken = broken
        self.adopted = adopted
        self.asked: list[str] = []

    def outputs(self) -> dict[str, OutputValue]:
        return {} if self.adopted is None else {"adopted": OutputValue(self.adopted, False)}

    def get_config(self, key: str, *, path: bool = False) -> ConfigValue:
        self.asked.append(key)
        if self.broken:
            raise RuntimeError(f"could not decrypt {CIPHERTEXT}")
        return ConfigValue(value=self.values[key], secret=True)


@pytest.fixture(autouse=True)
def no_cis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_KEY, ENV_KEY_FILE, ENV_PROFILE):
        monkeypatch.delenv(name, raising=False)


def stack_file(tmp_path: Path, *, secret_kubeconfig: bool = True, secret_cis_key: bool = False) -> Path:
    lines = [
        "config:",
        "  btp-infra:namespace: orders",
        f"  btp-infra:subaccountId: {SUBACCOUNT_1}",
        f"  btp-infra:kubeContext: {KUBE_CONTEXT}",
    ]
    if secret_kubeconfig:
        lines += ["  btp-infra:kubeconfig:", f"    secure: {CIPHERTEXT}"]
    if secret_cis_key:
        lines += ["  btp-infra:cisServiceKey:", f"    secure: {CIPHERTEXT}"]
    path = tmp_path / "Pulumi.orders.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def context(path: Path, stack: FakeStack) -> HookContext:
    steps: list[str] = []
    return HookContext(
        "destroy", StackTarget("orders", path, "passphrase", False), cast(Any, stack), steps.append, str
    )


def test_a_secret_kubeconfig_is_read_decrypted_through_the_stack(
    tmp_path: Path, kube_api: KubeApiStandIn
) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.seed(operator_object("ServiceInstance", "orders", "db"))
    stack = FakeStack({config_key("kubeconfig"): kube_api.kubeconfig(context=KUBE_CONTEXT)})
    ctx = context(stack_file(tmp_path), stack)

    with pytest.raises(StackRefused, match="ServiceInstance/db"):
        OffboardHooks("refuse", confirm=False).before(ctx)

    assert stack.asked == [config_key("kubeconfig")]
    assert [r.resource for r in kube_api.requests()][:1] == ["namespaces"]  # the stand-in was asked


def test_a_kubeconfig_that_cannot_be_decrypted_fails_in_one_line(
    tmp_path: Path, kube_api: KubeApiStandIn
) -> None:
    ctx = context(stack_file(tmp_path), FakeStack({}, broken=True))

    with pytest.raises(StackFailed) as caught:
        OffboardHooks("wait", confirm=False).before(ctx)

    message = str(caught.value)
    assert "btp-infra:kubeconfig is a Pulumi secret that could not be decrypted" in message
    assert "nothing was destroyed" in message and CIPHERTEXT not in message and "\n" not in message
    assert kube_api.requests() == []


def test_a_secret_cis_key_is_read_decrypted_for_the_confirmation(tmp_path: Path, sb: SandboxServer) -> None:
    stack = FakeStack({CONFIG_CIS_KEY: json.dumps(sb.cis_service_key())})
    ctx = context(stack_file(tmp_path, secret_kubeconfig=False, secret_cis_key=True), stack)

    OffboardHooks("refuse").after(ctx)

    assert stack.asked == [CONFIG_CIS_KEY]
    subaccount = ctx.details["subaccount"]
    assert isinstance(subaccount, dict) and subaccount["adminAccess"] == "temporary"
    assert sb.state()["admin_bindings"] == []


def test_no_cis_key_at_all_fails_the_stack_after_the_destroy(tmp_path: Path, sb: SandboxServer) -> None:
    ctx = context(stack_file(tmp_path, secret_kubeconfig=False), FakeStack({}))

    with pytest.raises(StackFailed) as caught:
        OffboardHooks("refuse").after(ctx)

    assert str(caught.value).startswith(
        f"destroyed, but could not confirm through Service Manager what is left in subaccount {SUBACCOUNT_1}"
    )
    subaccount = ctx.details["subaccount"]
    assert isinstance(subaccount, dict) and subaccount["error"]


def test_an_adopted_instance_kept_by_the_destroy_is_reported_not_failed(
    tmp_path: Path, sb: SandboxServer, kube_api: KubeApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    name = instance_name("orders")
    key = CisServiceKey.parse(sb.cis_service_key(), source="sandbox")
    with EntitlementsClient(key) as entitlements:
        entitlements.assign(SUBACCOUNT_1, OPERATOR_OFFERING, OPERATOR_PLAN)
    with AccountsClient(key) as accounts:
        creds, _ = accounts.ensure_service_management_binding(SUBACCOUNT_1)
    with ServiceManagerClient(creds) as sm:  # made by hand before the stack, then adopted by it
        sm.create_instance(name, offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN)
    adopted = ["serviceManagementBinding", f"serviceInstance {name}"]
    stack = FakeStack({config_key("kubeconfig"): kube_api.kubeconfig(context=KUBE_CONTEXT)}, adopted=adopted)
    ctx = context(stack_file(tmp_path), stack)
    hooks = OffboardHooks("refuse")

    hooks.before(ctx)  # before the destroy: the stack's outputs say what it adopted
    hooks.after(ctx)  # (the destroy kept the adopted instance)

    assert ctx.details["adopted"] == adopted
    subaccount = ctx.details["subaccount"]
    assert isinstance(subaccount, dict)
    assert [o["name"] for o in subaccount["adoptedKept"]] == [name]
    assert subaccount["operatorAccessRemaining"] == [] and subaccount["adminAccess"] == "kept"
    assert any("kept in subaccount" in line and "adopted" in line for line in ctx.notes)


def test_the_same_instance_not_adopted_fails_the_stack(
    tmp_path: Path, sb: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    key = CisServiceKey.parse(sb.cis_service_key(), source="sandbox")
    with EntitlementsClient(key) as entitlements:
        entitlements.assign(SUBACCOUNT_1, OPERATOR_OFFERING, OPERATOR_PLAN)
    with AccountsClient(key) as accounts:
        creds, _ = accounts.ensure_service_management_binding(SUBACCOUNT_1)
    with ServiceManagerClient(creds) as sm:
        sm.create_instance(instance_name("orders"), offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN)
    ctx = context(stack_file(tmp_path, secret_kubeconfig=False), FakeStack({}, adopted=[]))

    with pytest.raises(StackFailed, match="Service Manager still holds the tenant's instance"):
        OffboardHooks("refuse").after(ctx)


def test_a_subaccount_the_stack_created_and_deleted_is_confirmed_gone(
    tmp_path: Path, sb: SandboxServer
) -> None:
    """A created subaccount is deleted last and only when empty: after the destroy it is gone, which confirms
    it (no temporary admin access is made for a subaccount that no longer exists)."""
    path = tmp_path / "Pulumi.orders.yaml"
    path.write_text(
        "config:\n  btp-infra:namespace: orders\n  btp-infra:kubeContext: kyma\n"
        "  btp-infra:subaccount:\n    displayName: Orders\n    subdomain: acme-orders\n    region: eu10\n"
        f"  btp-infra:cisServiceKey:\n    secure: {CIPHERTEXT}\n",
        encoding="utf-8",
    )
    stack = FakeStack({CONFIG_CIS_KEY: json.dumps(sb.cis_service_key())})
    ctx = context(path, stack)
    before = len(sb.calls())

    OffboardHooks("refuse").after(ctx)

    assert ctx.details["subaccount"] == {"id": None, "deletedWithTheStack": True}
    assert [c["method"] for c in sb.calls()[before:] if "/oauth/token" not in c["path"]] == ["GET"]
    assert sb.state()["admin_bindings"] == []
