"""Secret leak check: known credential values never reach output, logs, errors, JSON or plaintext state.

Secrets: the cis key's client secret (a sentinel set in the emulator, passed through the ``btp-
infra:cisServiceKey`` config secret, the environment or a keyring profile), every secret the emulator issued
during the runs (SM admin and operator binding client secrets, x509 private keys: read from its state
afterwards) and a kubeconfig token (``btp-infra:kubeconfig``). Places searched: captured stdout/stderr (fd
level), every log record at DEBUG (message, arguments, exception text), exception text with its causes, ``btp-
infra plan`` text and ``--json`` output, CLI output, and the LocalEngine's state as Pulumi would store it in
plaintext: inputs, outputs other than declared secret outputs, the dill-pickled ``__provider`` strings, and
the rendered inputs and outputs outside secret envelopes.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from emulator_fixtures import SUBACCOUNT_2
from keyrings.alt.file import PlaintextKeyring

from btp_infra.cli import main as cli
from btp_infra.offline.rendering import redact_secrets
from btp_infra.sandbox import SandboxConfig, SandboxServer
from btp_infra.testing.local_engine import LocalEngine, RunResult

from .support import cis_key_document as support_key
from .support import emulator_secrets, error_text, sandbox_config, tenant_config

CIS_SECRET = "cis-secret-SENTINEL-8d41b7f0c2"
KUBE_TOKEN = "kube-token-SENTINEL-51ce09aa7d"
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443'}\n"
    f"users:\n- name: u\n  user: {{token: {KUBE_TOKEN}}}\n"
    "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
    "current-context: x\n"
)


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SandboxServer]:
    """This module's emulator: TLS on (x509 bindings) and a known cis client secret."""
    with SandboxServer(sandbox_config(tls=True, cis_client_secret=CIS_SECRET)) as server:
        yield server


@pytest.fixture
def tls_trust(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.ca_path)


def secrets_of(sandbox: SandboxServer) -> list[str]:
    found = {*emulator_secrets(sandbox), CIS_SECRET, KUBE_TOKEN}
    assert CIS_SECRET in emulator_secrets(sandbox)
    return sorted(found)


def leaks(text: str, secrets: Iterable[str]) -> list[str]:
    return [f"{s[:6]}… at {text.index(s)}" for s in secrets if s in text]


def log_text(records: Iterable[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(error_text(record.exc_info[1]))
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


def plaintext_state(engine: LocalEngine, result: RunResult | None = None) -> str:
    """What Pulumi would keep in plaintext: state minus declared secret outputs, pickled providers, and the
    rendered graph with secret envelopes redacted."""
    parts: list[Any] = []
    for entry in engine.state.values():
        secret_outputs = {"credentials"} if entry.type.endswith(":ServiceBinding") else set()
        parts.append(entry.inputs)
        parts.append({k: v for k, v in entry.outputs.items() if k not in secret_outputs})
        parts.append(base64.b64decode(entry.provider).decode("latin-1"))
    if result is not None:
        parts.append(result.render.outputs)
        for resource in result.render.resources:
            provider = resource.inputs.get("__provider")
            if isinstance(provider, str):
                parts.append(base64.b64decode(provider).decode("latin-1"))
            hidden = set(resource.additional_secret_outputs)
            parts.append(redact_secrets(resource.inputs))
            parts.append(redact_secrets({k: v for k, v in resource.outputs.items() if k not in hidden}))
    return json.dumps(parts, default=repr)


def assert_clean(secrets: list[str], **places: str) -> None:
    found = {name: leaks(text, secrets) for name, text in places.items()}
    assert not any(found.values()), found


# ---- the provider chain ---------------------------------------------------------------------------------


def test_provider_chain_leaks_nothing(
    sandbox: SandboxServer,
    tls_trust: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Create (client-secret and x509 tenants), no-op up, refresh and destroy with the cis key coming from the
    ``btp-infra:cisServiceKey`` config secret and a kubeconfig secret holding a token."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("BTP_CIS_SERVICE_KEY")
    key = json.dumps(sandbox.cis_service_key())
    engines = [
        LocalEngine(
            "incident",
            {**tenant_config(), "btp-infra:cisServiceKey": key, "btp-infra:kubeconfig": KUBECONFIG},
        ),
        LocalEngine(
            "payments",
            {
                **tenant_config(
                    "payments", SUBACCOUNT_2, credentialType="x509", secretPlacement="management"
                ),
                "btp-infra:cisServiceKey": key,
            },
        ),
    ]
    states: list[str] = []
    for engine in engines:
        created = engine.up()
        assert created.ok, created.render.error
        states.append(plaintext_state(engine, created))
        again = engine.up()
        assert again.ok and again.changes == 0
        states.append(plaintext_state(engine, again))
        assert engine.refresh() == []
        states.append(plaintext_state(engine))
    secrets = secrets_of(sandbox)
    store = sandbox.runtime.store
    assert any(b.credential_type == "x509" for b in store.bindings.values()), "an x509 key is checked too"
    assert len(secrets) >= 6  # cis, 2 admin bindings, 1 client-secret binding, 3 lines of the x509 key
    for engine in engines:
        engine.destroy()
    assert any(r.name.startswith("urllib3") for r in caplog.records), "DEBUG records are captured"
    out, err = capfd.readouterr()
    assert_clean(secrets, stdout=out, stderr=err, logs=log_text(caplog.records), state="\n".join(states))


def test_a_failing_run_leaks_nothing(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    engine = LocalEngine("incident", {**tenant_config(), "btp-infra:kubeconfig": KUBECONFIG})
    sandbox.inject_fault("POST", "/sm/v1/service_bindings", status=500, count=1000)
    sandbox.inject_fault("GET", "/uaa/{subdomain}/oauth/token", kind="reset", count=1, when="after")
    failed = engine.up()
    assert failed.render.error is not None
    error = error_text(failed.render.error)
    sandbox.clear_faults()
    recovered = engine.up()
    assert recovered.ok, recovered.render.error
    secrets = secrets_of(sandbox)
    engine.destroy()
    out, err = capfd.readouterr()
    assert_clean(
        secrets,
        error=error,
        stdout=out,
        stderr=err,
        logs=log_text(caplog.records),
        state=plaintext_state(engine, failed) + plaintext_state(engine, recovered),
    )


def test_the_keyring_path_leaks_nothing(
    sandbox: SandboxServer,
    kr: PlaintextKeyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``credentials set`` / ``which``, then a run with ``btp-infra:keyringProfile``."""
    caplog.set_level(logging.DEBUG)
    key_file = tmp_path / "cis.json"
    key_file.write_text(json.dumps(sandbox.cis_service_key()))
    runner = CliRunner()
    stored = runner.invoke(cli, ["credentials", "set", "leakcheck", "--file", str(key_file)])
    assert stored.exit_code == 0, stored.output
    monkeypatch.delenv("BTP_CIS_SERVICE_KEY")
    which = runner.invoke(cli, ["credentials", "which", "--profile", "leakcheck"])
    assert which.exit_code == 0 and "keyring" in which.output
    engine = LocalEngine("incident", {**tenant_config(), "btp-infra:keyringProfile": "leakcheck"})
    created = engine.up()
    assert created.ok, created.render.error
    secrets = secrets_of(sandbox)
    engine.destroy()
    out, err = capfd.readouterr()
    assert_clean(
        secrets,
        set=stored.output,
        which=which.output,
        stdout=out,
        stderr=err,
        logs=log_text(caplog.records),
        state=plaintext_state(engine, created),
    )


# ---- btp-infra plan and every CLI error path ------------------------------------------------------------


def cis_key_document() -> dict[str, Any]:
    return support_key(CIS_SECRET, "sb-leak-check")


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    """A stacks dir: one valid stack with a plaintext kubeconfig, one with the cis key in plain text, one
    that is not YAML around a secret, one mapping the first one's namespace again."""
    directory = tmp_path / "stacks"
    directory.mkdir()
    guid = "553bcbbb-e809-450f-82db-60de3ef76b1f"
    (directory / "Pulumi.good.yaml").write_text(
        "config:\n  btp-infra:namespace: good\n"
        f"  btp-infra:subaccountId: {guid}\n"
        "  btp-infra:kubeContext: kyma\n"
        f"  btp-infra:kubeconfig: {json.dumps(KUBECONFIG)}\n"
    )
    (directory / "Pulumi.plain-key.yaml").write_text(
        "config:\n  btp-infra:namespace: plain\n"
        "  btp-infra:subaccountId: 0b6f1a52-3c4d-4e8f-9a7b-2c1d5e6f7a8b\n"
        f"  btp-infra:cisServiceKey: {json.dumps(json.dumps(cis_key_document()))}\n"
    )
    (directory / "Pulumi.broken.yaml").write_text(
        f"config:\n  btp-infra:kubeconfig: [{KUBE_TOKEN}\n  btp-infra:cisServiceKey: {CIS_SECRET}: x\n"
    )
    (directory / "Pulumi.twin.yaml").write_text(
        "config:\n  btp-infra:namespace: good\n"
        "  btp-infra:subaccountId: 7d2c0a6e-1b3f-4c5d-8e9f-0a1b2c3d4e5f\n"
        "  btp-infra:kubeContext: kyma\n"
        f"  btp-infra:kubeconfig: {json.dumps(KUBECONFIG)}\n"
    )
    return directory


def cli_text(result: Result) -> str:
    parts = [result.output]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        parts.append(error_text(result.exception))
    return "\n".join(parts)


def test_plan_text_and_json_leak_nothing(
    stacks: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    text = runner.invoke(cli, ["plan", "--all", "--stacks-dir", str(stacks)])
    as_json = runner.invoke(cli, ["plan", "--all", "--json", "--stacks-dir", str(stacks)])
    assert text.exit_code == 1 and as_json.exit_code == 1  # invalid stacks and a fleet conflict
    report = json.loads(as_json.stdout)
    assert {s["stack"] for s in report["stacks"]} == {"good", "plain-key", "broken", "twin"}
    out, err = capfd.readouterr()
    assert_clean(
        [CIS_SECRET, KUBE_TOKEN],
        text=cli_text(text),
        json=cli_text(as_json),
        stdout=out,
        stderr=err,
        logs=log_text(caplog.records),
    )


def cli_error_paths(tmp_path: Path, stacks: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, argv, environment) of every CLI error path."""
    bad_key = tmp_path / "bad-key.json"
    document = cis_key_document()
    del document["uaa"]["clientid"]
    bad_key.write_text(json.dumps(document))
    not_json = tmp_path / "not-json.json"
    not_json.write_text(f"clientsecret: {CIS_SECRET}\n")
    good_key = tmp_path / "good-key.json"
    good_key.write_text(json.dumps(cis_key_document()))
    policy = tmp_path / "policy.json"
    policy.write_text('{"btp-tenant-entitlement-allowed": {"allowedPlans": ')
    unset = {"BTP_CIS_SERVICE_KEY": "", "BTP_CIS_SERVICE_KEY_FILE": "", "BTP_INFRA_KEYRING_PROFILE": ""}
    return [
        ("plan-invalid-stacks", ["plan", "--all", "--stacks-dir", str(stacks)], unset),
        ("plan-unknown-stack", ["plan", "--stack", "nowhere", "--stacks-dir", str(stacks)], unset),
        (
            "plan-bad-policy-config",
            ["plan", "--policy-config", str(policy), "--stacks-dir", str(stacks)],
            unset,
        ),
        ("credentials-set-invalid-key", ["credentials", "set", "p1", "--file", str(bad_key)], unset),
        ("credentials-set-not-json", ["credentials", "set", "p1", "--file", str(not_json)], unset),
        ("credentials-set-bad-profile", ["credentials", "set", "no good!", "--file", str(good_key)], unset),
        ("credentials-delete-bad-profile", ["credentials", "delete", "no good!"], unset),
        ("credentials-delete-unknown", ["credentials", "delete", "nobody"], unset),
        ("credentials-which-nothing", ["credentials", "which"], unset),
        ("credentials-which-missing-profile", ["credentials", "which", "--profile", "nobody"], unset),
        (
            "credentials-which-env-not-json",
            ["credentials", "which"],
            {**unset, "BTP_CIS_SERVICE_KEY": f"{{'clientsecret': '{CIS_SECRET}'"},
        ),
        (
            "credentials-which-env-invalid-key",
            ["credentials", "which"],
            {**unset, "BTP_CIS_SERVICE_KEY": json.dumps(document)},
        ),
        (
            "credentials-which-file-invalid",
            ["credentials", "which"],
            {**unset, "BTP_CIS_SERVICE_KEY_FILE": str(bad_key)},
        ),
        (
            "credentials-which-file-not-json",
            ["credentials", "which"],
            {**unset, "BTP_CIS_SERVICE_KEY_FILE": str(not_json)},
        ),
        ("sandbox-serve-port-out-of-range", ["sandbox", "serve", "--port", "70000"], unset),
        ("sandbox-serve-port-not-a-number", ["sandbox", "serve", "--port", "eighty"], unset),
        ("sandbox-serve-unknown-option", ["sandbox", "serve", "--bogus"], unset),
        (
            "sandbox-serve-key-out-unwritable",
            ["sandbox", "serve", "--key-out", str(tmp_path / "missing-dir" / "key.json")],
            unset,
        ),
    ]


def test_every_cli_error_path_leaks_nothing(
    tmp_path: Path,
    stacks: Path,
    kr: PlaintextKeyring,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    # `sandbox serve` makes its own emulator: give it the sentinel as its cis secret, so a leak would show.
    import btp_infra.sandbox as sandbox_package

    serve = sandbox_package.serve
    monkeypatch.setattr(
        sandbox_package,
        "serve",
        functools.partial(serve, config=SandboxConfig(cis_client_secret=CIS_SECRET)),
    )
    runner = CliRunner()
    texts: dict[str, str] = {}
    for name, argv, env in cli_error_paths(tmp_path, stacks):
        for key, value in env.items():
            if value:
                monkeypatch.setenv(key, value)
            else:
                monkeypatch.delenv(key, raising=False)
        result = runner.invoke(cli, argv)
        assert result.exit_code != 0, f"{name} did not fail: {result.output}"
        texts[name] = cli_text(result)
        assert texts[name].strip(), f"{name} failed without a message"
    out, err = capfd.readouterr()
    assert_clean([CIS_SECRET, KUBE_TOKEN], stdout=out, stderr=err, logs=log_text(caplog.records), **texts)
