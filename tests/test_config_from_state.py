"""Refresh and destroy configure the dynamic providers from *state*, not from the current stack config.

The engine runs no program for them; it loads each provider resource from the snapshot and configures it
with its stored inputs — for the dynamic default provider, the whole stack config of the last ``up``
(``pkg/resource/deploy/providers/registry.go`` ``Registry.Same``, reached through
``Deployment.EnsureProvider`` from ``stepGenerator.GenerateDeletes`` and ``deploymentExecutor.refresh``). So
a cis key rotated in the stack secret reaches destroy and refresh only after an ``up``; a key from
``BTP_CIS_SERVICE_KEY`` / ``BTP_CIS_SERVICE_KEY_FILE`` (read at every call, and first in order) works at
once. ``LocalEngine`` models it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from emulator_fixtures import FAST, SUBACCOUNT_1, sandbox_seeds

from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.sandbox import SandboxConfig, SandboxServer
from btp_infra.testing.local_engine import LocalEngine

CIS = "btp-infra:cisServiceKey"
REVOKED = r"(?i)unauthori|401|token"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(subaccounts=sandbox_seeds(), latencies=FAST)) as server:
        for name in (ENV_KEY, ENV_KEY_FILE, ENV_PROFILE):
            monkeypatch.delenv(name, raising=False)
        yield server


def keys(sandbox: SandboxServer) -> tuple[str, str]:
    """(the valid cis key, the same key with a revoked secret), as JSON."""
    valid = sandbox.cis_service_key()
    revoked = json.loads(json.dumps(valid))
    revoked["uaa"]["clientsecret"] = "revoked-" + str(revoked["uaa"]["clientsecret"])
    return json.dumps(valid), json.dumps(revoked)


def test_destroy_uses_the_key_of_the_last_up_and_the_environment_overrides_it(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid, revoked = keys(sandbox)
    config = {
        "btp-infra:namespace": "incident",
        "btp-infra:subaccountId": SUBACCOUNT_1,
        "btp-infra:kubeContext": "kind-test",
        CIS: revoked,
    }
    engine = LocalEngine("incident", config)
    monkeypatch.setenv(ENV_KEY, valid)  # up works through the environment; state records the stale secret
    assert engine.up().ok
    assert engine.provider_config is not None and engine.provider_config[CIS] == revoked

    monkeypatch.delenv(ENV_KEY)
    engine.config[CIS] = valid  # `pulumi config set --secret` of the rotated key, no `up` since
    with pytest.raises(Exception, match=REVOKED):
        engine.refresh()
    with pytest.raises(Exception, match=REVOKED):
        engine.destroy()
    assert len(engine.state) == 5, "nothing deleted with the revoked key"

    monkeypatch.setenv(ENV_KEY, valid)  # the documented way for destroy/refresh after a rotation
    engine.destroy()
    assert engine.resources == {}
    state = sandbox.state()
    assert [state[k] for k in ("instances", "bindings", "admin_bindings")] == [[], [], []]


def test_an_up_after_the_rotation_brings_the_new_key_to_destroy(sandbox: SandboxServer) -> None:
    valid, _ = keys(sandbox)
    config = {
        "btp-infra:namespace": "incident",
        "btp-infra:subaccountId": SUBACCOUNT_1,
        "btp-infra:kubeContext": "kind-test",
        CIS: valid,
    }
    engine = LocalEngine("incident", config)
    assert engine.up().ok
    engine.config[CIS] = json.dumps({**json.loads(valid), "note": "rotated"})
    assert engine.up().ok
    assert engine.provider_config == engine.config
    engine.destroy()
    assert engine.resources == {}
