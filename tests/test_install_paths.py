"""The documented install paths: every workflow installs the same way, and the policy pack runs from the
project's virtualenv as the Pulumi CLI resolves it — a relative ``virtualenv`` option is joined to the pack
directory (``sdk/python/toolchain/pip.go``, ``resolveVirtualEnvironmentPath``); the CLI never installs a
local pack's requirements. The last tests run the documented commands for real in a fresh copy of the
repository (pip restricted to this machine's on-disk package index), then start the two processes the CLI
starts from that virtualenv: the dynamic-provider server and the policy pack's analyzer.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tooling import missing_tool

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ("preview.yml", "deploy.yml")


def install_steps(workflow: str) -> list[str]:
    """The ``run:`` scripts of the steps that install with pip."""
    document: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())
    return [
        step["run"]
        for job in document["jobs"].values()
        for step in job.get("steps", [])
        if "pip install" in str(step.get("run", ""))
    ]


def test_every_workflow_installs_the_same_way() -> None:
    scripts = {script for workflow in WORKFLOWS for script in install_steps(workflow)}
    assert len(scripts) == 1, scripts
    [script] = scripts
    assert "policies/requirements.txt" not in script  # the pack shares the project's virtualenv


def test_the_pack_shares_the_projects_virtualenv() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    program_venv = (ROOT / project["runtime"]["options"]["virtualenv"]).resolve()
    pack_venv = (ROOT / "policies" / pack["runtime"]["options"]["virtualenv"]).resolve()
    assert pack_venv == program_venv
    # A requirements line such as `-e ..` resolves against pip's working directory: none may be left.
    lines = (ROOT / "policies" / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if line.strip() and not line.lstrip().startswith("#")] == []


def test_pulumi_yaml_requires_an_engine_that_passes_config_to_dynamic_providers() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["requiredPulumiVersion"] == ">=3.139.0"


# --------------------------------------------------------------------------------------------------
# The real thing: a fresh copy of the repository, the documented commands, pip, and the two processes the
# Pulumi CLI starts from the resulting virtualenv.
# --------------------------------------------------------------------------------------------------

INSTALL_SECONDS = 900
CHECK_TYPE = "pulumi-python:dynamic/btp:SubaccountCheck"
STARTUP_SECONDS = 60


def documented_install() -> list[str]:
    """The install commands of README's "Running it with Pulumi" (its first line, comment stripped)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running it with Pulumi", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    first = block.splitlines()[0].split("#", 1)[0]
    return [command.strip() for command in first.split("&&")]


def test_readme_and_workflows_install_with_the_same_commands() -> None:
    for workflow in WORKFLOWS:
        for script in install_steps(workflow):
            lines = [line.strip() for line in script.splitlines() if line.strip()]
            assert lines == documented_install(), workflow


#: Filled by ``make setup`` (``make wheelhouse``): the wheels the documented install needs, fetched once while
#: setting up, so this suite installs for real without reaching the network.
WHEELHOUSE = Path(os.environ.get("BTP_INFRA_WHEELHOUSE", ROOT / ".cache" / "wheelhouse"))


def offline_pip_env() -> dict[str, str]:
    """pip restricted to the wheelhouse (the commands stay exactly the documented ones; only where pip looks
    changes): no index, so nothing in this suite reaches the network."""
    if not any(WHEELHOUSE.glob("*.whl")):
        missing_tool(f"no wheelhouse at {WHEELHOUSE}: run `make wheelhouse` (part of `make setup`)")
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE)}


def fresh_copy(dest: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored), without ``.venv`` & co."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the fresh-clone test copies what git would clone")
    for name in listed.stdout.decode().split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone after the documented install commands, run as documented with bash."""
    clone = fresh_copy(tmp_path_factory.mktemp("clone"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VIRTUAL_ENV", "PIP_"))}
    env |= offline_pip_env()
    bin_dir = tmp_path_factory.mktemp("bin")  # `python` = a plain interpreter, as on a user's PATH
    (bin_dir / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    for command in documented_install():
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
            check=False,
        )
        assert done.returncode == 0, f"{command}:\n{done.stderr[-3000:]}"
    return clone


def venv_python(base: Path, yaml_file: Path) -> Path:
    """The interpreter the Pulumi CLI uses: ``runtime.options.virtualenv`` joined to the file's directory
    (``sdk/python/toolchain/pip.go``, ``resolveVirtualEnvironmentPath``), then ``bin/python``."""
    document = yaml.safe_load(yaml_file.read_text())
    # Not resolved: venv/bin/python is a symlink to the base interpreter, which has none of the packages.
    return Path(os.path.abspath(base / document["runtime"]["options"]["virtualenv"] / "bin" / "python"))


def test_the_program_interpreter_starts_every_dynamic_provider(installed: Path) -> None:
    """The engine starts dynamic providers as ``python -u -m pulumi.dynamic`` from the program's venv; the
    pickled provider (stored by class path) must resolve there — checked with a real ``Check``."""
    from dynamic_host import DynamicProviderHost, serialized
    from pulumi.runtime import proto

    from btp_infra.providers.subaccount import SubaccountCheckProvider

    python = venv_python(installed, installed / "Pulumi.yaml")
    assert python.is_file(), python
    news = {
        "subaccountId": "553bcbbb-e809-450f-82db-60de3ef76b1f",
        "region": "eu10",
        "namespace": "team-a",
        "__provider": serialized(SubaccountCheckProvider()),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "VIRTUAL_ENV"))}
    with DynamicProviderHost(env=env, cwd=installed, python=python) as host:
        from dynamic_host import _struct

        urn = "urn:pulumi:dev::btp-infra::btp-infra:index:TenantNamespace$" + CHECK_TYPE + "::tenant-check"
        response = host.stub.Check(proto.CheckRequest(urn=urn, olds=_struct({}), news=_struct(news)))
        assert [(f.property, f.reason) for f in response.failures] == []
        # The clone's own btp_infra answered, not this checkout's.
        where = subprocess.run(
            [str(python), "-c", "import btp_infra; print(btp_infra.__file__)"],
            capture_output=True,
            text=True,
            env=env,
            cwd=installed.parent,
            check=True,
        ).stdout.strip()
        assert Path(where).resolve().is_relative_to(installed.resolve()), where


def start_pack_as_the_cli_does(installed: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``<venv>/bin/python -u -m pulumi.policy <engine> <pack dir>`` in the pack directory, with the stack in
    ``PULUMI_*`` (``sdk/python/cmd/pulumi-language-python/main.go``, ``RunPlugin``, kind analyzer)."""
    pack_dir = installed / "policies"
    python = venv_python(pack_dir, pack_dir / "PulumiPolicy.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env |= {"PULUMI_PROJECT": "btp-infra", "PULUMI_STACK": "dev", "PULUMI_DRY_RUN": "true"}
    env["PULUMI_CONFIG"] = "{}"
    proc = subprocess.Popen(
        [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(pack_dir)],
        cwd=pack_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
    line = proc.stdout.readline().decode().strip() if ready else ""
    return proc, line


def test_the_pack_starts_from_the_interpreter_the_cli_uses(installed: Path) -> None:
    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime import proto
    from pulumi.runtime.proto import analyzer_pb2_grpc

    from btp_infra.offline.analyzer import configure_request, resolve_policy_config
    from btp_infra.policy.policies import ALL_POLICIES, PACK_NAME, PLAN_POLICIES

    proc, port = start_pack_as_the_cli_does(installed)
    channel: grpc.Channel | None = None
    try:
        if not port.isdigit():
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the pack did not print its port: {port!r}\n{err.decode()[-3000:]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        assert info.name == PACK_NAME
        assert [p.name for p in info.policies] == [p.name for p in ALL_POLICIES]
        # The shipped example config, as the engine sends it: its ReconcilePolicyPackConfig
        # (pkg/resource/analyzer/config.go, applyConfig) keeps entries for names the pack does not declare
        # (btp-infra plan's own `btp-tenant-fleet-unique`) and validates only the pack's policies.
        raw = json.loads((installed / "policies" / "config.example.json").read_text())
        request = configure_request(resolve_policy_config(raw))
        for name in PLAN_POLICIES:
            assert name in raw, f"the example config shows {name}"
            request.policyConfig[name].enforcementLevel = proto.ADVISORY
        stub.Configure(request)
    finally:
        if channel is not None:
            channel.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_no_secure_keyring_is_one_line_from_the_installed_command(installed: Path, tmp_path: Path) -> None:
    """Where the fresh virtualenv finds no secure keyring backend (headless Linux, containers: keyring's
    fail/null backends), ``btp-infra`` says so in one line and names the environment variables."""
    python = venv_python(installed, installed / "Pulumi.yaml")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BTP_", "PYTHON_KEYRING", "PYTHONPATH", "VIRTUAL_ENV", "PULUMI_"))
    }
    env |= {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "c"),
        "XDG_DATA_HOME": str(tmp_path / "d"),
    }
    backend = subprocess.run(
        [str(python), "-c", "import keyring; b = keyring.get_keyring(); print(type(b).__module__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    if backend not in {"keyring.backends.fail", "keyring.backends.null", "keyrings.alt.file"}:
        pytest.skip(f"this machine has a secure keyring backend ({backend})")
    done = subprocess.run(
        [str(python.parent / "btp-infra"), "credentials", "which", "--profile", "my-ga"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no secure keyring backend" in lines[0] and "BTP_CIS_SERVICE_KEY" in lines[0]
    assert "Traceback" not in done.stderr
