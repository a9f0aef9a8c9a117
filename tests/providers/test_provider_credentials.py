"""Where the providers get the cis key (env JSON, env file, ``btp-infra:cisServiceKey`` via ``configure``,
keyring profile), and that a provider pickles to nothing even after it was configured and used.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import dill
import pytest
from dynamic_host import serialized
from emulator_fixtures import SUBACCOUNT_1
from keyrings.alt.file import PlaintextKeyring
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE, CredentialsError, store_in_keyring
from btp_infra.providers import (
    ServiceBindingProvider,
    ServiceInstanceProvider,
    ServiceManagerAccessProvider,
    SubaccountCheckProvider,
    SubaccountEntitlementProvider,
)
from btp_infra.providers.base import BtpProvider
from btp_infra.sandbox import SandboxServer

from .support import OPERATOR, objects, secrets_of

pytestmark = pytest.mark.usefixtures("no_cis_env", "fast_providers")

PROJECT = "btp-infra"


def configured(provider: BtpProvider, config: dict[str, str]) -> BtpProvider:
    provider.configure(ConfigureRequest(Config(config, PROJECT)))
    return provider


def cis_client_ids(sb: SandboxServer) -> set[str]:
    """Clients that called the Accounts API."""
    return {str(c["client_id"]) for c in sb.calls() if str(c["route"]).startswith("/accounts-service/")}


def check_subaccount(provider: BtpProvider, sb: SandboxServer) -> None:
    created = provider.create({"subaccountId": SUBACCOUNT_1, "region": "eu10"})
    assert created.outs is not None and created.outs["subdomain"] == "tenant-a"
    assert cis_client_ids(sb) == {sb.cis_service_key()["uaa"]["clientid"]}


def test_key_from_env_json(sb: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEY, json.dumps(sb.cis_service_key()))
    check_subaccount(SubaccountCheckProvider(), sb)


def test_key_from_env_file(sb: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "cis.json"
    path.write_text(json.dumps(sb.cis_service_key()), encoding="utf-8")
    monkeypatch.setenv(ENV_KEY_FILE, str(path))
    check_subaccount(SubaccountCheckProvider(), sb)


def test_key_from_the_config_secret_read_in_configure(sb: SandboxServer) -> None:
    with pytest.raises(CredentialsError, match="no cis service key configured"):
        SubaccountCheckProvider().create({"subaccountId": SUBACCOUNT_1, "region": None})
    raw = json.dumps(sb.cis_service_key())
    provider = configured(SubaccountCheckProvider(), {"btp-infra:cisServiceKey": raw, "other:key": "x"})
    check_subaccount(provider, sb)


def test_key_from_a_keyring_profile(sb: SandboxServer, kr: PlaintextKeyring) -> None:
    store_in_keyring("sandbox-ga", sb.cis_service_key())
    provider = configured(SubaccountCheckProvider(), {"btp-infra:keyringProfile": "sandbox-ga"})
    check_subaccount(provider, sb)


def test_key_from_a_keyring_profile_named_in_the_env(
    sb: SandboxServer, kr: PlaintextKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_in_keyring("from-env", sb.cis_service_key())
    monkeypatch.setenv(ENV_PROFILE, "from-env")
    check_subaccount(SubaccountCheckProvider(), sb)


def test_a_missing_keyring_entry_is_an_error_naming_the_profile(
    sb: SandboxServer, kr: PlaintextKeyring
) -> None:
    provider = configured(SubaccountCheckProvider(), {"btp-infra:keyringProfile": "nobody"})
    with pytest.raises(CredentialsError, match="keyring btp-infra/nobody"):
        provider.create({"subaccountId": SUBACCOUNT_1, "region": None})


def test_the_config_key_is_not_needed_again_after_unpickling(sb: SandboxServer) -> None:
    """The engine configures every provider it unpickles; nothing from configure travels in the pickle."""
    raw = json.dumps(sb.cis_service_key())
    provider = configured(SubaccountCheckProvider(), {"btp-infra:cisServiceKey": raw})
    clone = dill.loads(base64.b64decode(serialized(provider)))
    with pytest.raises(CredentialsError):
        clone.create({"subaccountId": SUBACCOUNT_1, "region": None})


def test_providers_pickle_to_nothing_after_configure_and_use(sb: SandboxServer, kr: PlaintextKeyring) -> None:
    """Run the whole chain with configured providers, then pickle each: no key material, no clients."""
    raw = json.dumps(sb.cis_service_key())
    store_in_keyring("sandbox-ga", raw)
    config = {"btp-infra:cisServiceKey": raw, "btp-infra:keyringProfile": "sandbox-ga"}
    providers: dict[str, BtpProvider] = {
        "check": configured(SubaccountCheckProvider(), config),
        "entitlement": configured(SubaccountEntitlementProvider(), config),
        "access": configured(ServiceManagerAccessProvider(), config),
        "instance": configured(ServiceInstanceProvider(), config),
        "binding": configured(ServiceBindingProvider(), config),
    }
    providers["check"].create({"subaccountId": SUBACCOUNT_1, "region": None})
    providers["entitlement"].create(
        {"subaccountId": SUBACCOUNT_1, "serviceName": OPERATOR[0], "planName": OPERATOR[1]}
    )
    providers["access"].create({"subaccountId": SUBACCOUNT_1, "tenant": "team-a"})
    instance = providers["instance"].create(
        {
            "subaccountId": SUBACCOUNT_1,
            "name": "pickle-test",
            "serviceOfferingName": OPERATOR[0],
            "servicePlanName": OPERATOR[1],
        }
    )
    binding = providers["binding"].create(
        {
            "subaccountId": SUBACCOUNT_1,
            "serviceInstanceId": instance.id,
            "name": "pickle-test-x509",
            "credentialType": "x509",
        }
    )
    assert binding.outs is not None
    assert objects(sb, "bindings", name="pickle-test-x509")

    key: dict[str, Any] = sb.cis_service_key()
    forbidden = [
        *secrets_of(sb),  # cis secret, admin and tenant binding secrets/keys, every token issued
        key["uaa"]["clientid"],
        key["uaa"]["url"],
        key["endpoints"]["accounts_service_url"],
        binding.outs["credentials"]["certificate"],
        "sandbox-ga",  # the keyring profile
    ]
    for name, provider in providers.items():
        assert provider._config_key == raw, "configure() did capture the key on the live object"
        assert provider._accounts_client is not None or provider._entitlements_client is not None
        blob = base64.b64decode(serialized(provider))
        found = [i for i, value in enumerate(forbidden) if value.encode() in blob]
        assert found == [], f"{name}: key material in the pickled provider (forbidden[i], values not shown)"
        assert len(blob) < 300, f"{name}: pickled by reference with an empty state ({len(blob)} bytes)"
        assert provider.__getstate__() == {}
        clone = dill.loads(blob)
        assert type(clone) is type(provider)
        assert clone._config_key is None and clone._keyring_profile is None
        assert clone._accounts_client is None and clone._sm_clients == {}
