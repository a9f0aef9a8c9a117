"""Shared helpers of the rotation tests: a tenant stack against the emulator under ``LocalEngine``, and
what the emulator and the recorded cluster hold (bindings by name and client id, the operator Secret)."""

from __future__ import annotations

from typing import Any

from btp_infra.conventions import PROJECT, TYPE_SECRET, TYPE_SERVICE_BINDING, config_key
from btp_infra.policy.rules import plain
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.local_engine import LocalEngine

NAMESPACE = "orders"
BINDING = "tenant-operator-access-binding"
SECRET_RESOURCE = "tenant-operator-secret"


def tenant_config(subaccount: str, **extra: str) -> dict[str, str]:
    """A minimal tenant stack's engine config (the cis key comes from the environment)."""
    config = {
        config_key("namespace"): NAMESPACE,
        config_key("subaccountId"): subaccount,
        config_key("kubeContext"): "kyma",
        # short, so a failing check ends quickly (the binding's timeout bounds its token check)
        config_key("timeouts"): '{"binding": 30}',
    }
    config.update({config_key(k): v for k, v in extra.items()})
    return config


def sm_bindings(sandbox: SandboxServer) -> dict[str, str]:
    """Every btp-infra binding in the emulator's Service Manager (not the admin access): client id → name."""
    with sandbox.runtime.store.lock:
        found = sandbox.runtime.store.bindings.values()
        return {b.credentials["clientid"]: b.name for b in found if b.name.startswith(f"{PROJECT}-")}


def secret_data(engine: LocalEngine) -> dict[str, str] | None:
    """The operator Secret's ``stringData`` as recorded (what the cluster holds), or None without one."""
    found = [e for e in engine.cluster.values() if e.type == TYPE_SECRET]
    if not found:
        return None
    (secret,) = found
    return dict(plain(secret.inputs["stringData"]))


def binding_state(engine: LocalEngine) -> dict[str, Any]:
    """The outputs of the binding in state (not the pending-delete one)."""
    (outs,) = [e.outputs for e in engine.state.values() if e.type == TYPE_SERVICE_BINDING]
    return outs
