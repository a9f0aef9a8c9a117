"""Before anything runs: no Pulumi CLI, or one older than ``requiredPulumiVersion``, is one line and exit 2
with nothing else attempted; the version ranges ``Pulumi.yaml`` may hold; backend defaults."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from semver import VersionInfo

from btp_infra.automation import INSTALL_URL, PulumiCli, resolve_backend, run_fleet
from btp_infra.automation.pulumi_cli import version_satisfies

from .support import Fleet, engine_events, write_stub_cli


def run_with_console(fleet: Fleet, operation: str = "up") -> tuple[int, str, str | None]:
    buffer = io.StringIO()
    result = run_fleet(
        operation, ["orders"], project_dir=fleet.project, console=Console(file=buffer, width=80)
    )
    return result.exit_code, buffer.getvalue(), result.error


def test_no_pulumi_cli_is_one_line_and_nothing_else(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x" * 12)
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})
    (fleet.root / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(fleet.root / "empty-bin"))  # no pulumi anywhere on PATH

    code, text, error = run_with_console(fleet)

    assert code == 2
    assert text.count("\n") == 1  # one line, not wrapped at the console's 80 columns
    assert text == f"error: {error}\n"
    assert "Pulumi CLI is not installed" in text and INSTALL_URL in text and ">=3.139.0" in text
    assert fleet.calls() == []
    assert not (fleet.project / ".pulumi-state").exists()  # no backend directory either


def test_pulumi_root_is_used_instead_of_path(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x" * 12)
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})
    (fleet.root / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(fleet.root / "empty-bin"))
    write_stub_cli(tmp_path / "pulumi-root" / "bin")

    result = run_fleet("up", ["orders"], project_dir=fleet.project, pulumi_root=str(tmp_path / "pulumi-root"))

    assert result.exit_code == 0, result
    assert [a[-1] for a in fleet.argvs()][:2] == ["version", "install"]


@pytest.mark.parametrize("version", ["3.120.0", "v3.138.9"])
def test_too_old_pulumi_cli_is_one_line(fleet: Fleet, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x" * 12)
    fleet.version = version
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})

    code, text, error = run_with_console(fleet)

    assert code == 2
    assert text == f"error: {error}\n"
    assert f"the Pulumi CLI {version.lstrip('v')} is older than this project requires" in text
    assert "requiredPulumiVersion >=3.139.0 in Pulumi.yaml" in text and INSTALL_URL in text
    assert fleet.argvs() == [["version"]]


def test_unparseable_version_is_one_line(fleet: Fleet) -> None:
    fleet.version = "garbage"
    fleet.add_stack("orders")
    code, text, _ = run_with_console(fleet)
    assert code == 2 and text.count("\n") == 1 and "did not report its version" in text


def test_project_without_required_version_accepts_any_cli(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x" * 12)
    text = (fleet.project / "Pulumi.yaml").read_text(encoding="utf-8")
    (fleet.project / "Pulumi.yaml").write_text(
        "\n".join(line for line in text.splitlines() if "requiredPulumiVersion" not in line) + "\n"
    )
    fleet.version = "3.100.0"
    fleet.add_stack("orders", ops={"up": {"events": engine_events("orders")}})

    assert run_fleet("up", ["orders"], project_dir=fleet.project, install=False).exit_code == 0


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("3.139.0", ">=3.139.0", True),
        ("3.138.9", ">=3.139.0", False),
        ("3.200.1", ">=3.139.0 <4.0.0", True),
        ("4.0.0", ">=3.139.0 <4.0.0", False),
        ("3.150.0", "3.150.0", True),
        ("3.151.0", "=3.150.0 || >=3.160.0", False),
        ("3.161.0", "=3.150.0 || >=3.160.0", True),
        ("3.150.0", "!=3.150.0", False),
        ("3.150.0", ">3.149.9", True),
        ("3.150.0", "<=v3.150.0", True),
    ],
)
def test_version_ranges(version: str, spec: str, expected: bool) -> None:
    assert version_satisfies(VersionInfo.parse(version), spec) is expected


@pytest.mark.parametrize("spec", ["", ">=", "~> 3", ">=3.139.0 ||"])
def test_unreadable_version_ranges(spec: str) -> None:
    with pytest.raises(ValueError):
        version_satisfies(VersionInfo.parse("3.150.0"), spec)


def test_pulumi_cli_repr_names_secret_keys_only() -> None:
    cli = PulumiCli("/usr/bin/pulumi", VersionInfo.parse("3.190.0")).with_secret_env(
        {"PULUMI_CONFIG_PASSPHRASE": "hunter2-hunter2"}
    )
    assert "hunter2" not in repr(cli) and "PULUMI_CONFIG_PASSPHRASE" in repr(cli)


def test_backend_from_pulumi_yaml(tmp_path: Path, clean_env: None) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: btp-infra\nruntime: python\nbackend:\n  url: s3://state-bucket\n"
    )
    backend = resolve_backend(tmp_path)
    assert (backend.url, backend.env) == ("s3://state-bucket", {})
    assert not (tmp_path / ".pulumi-state").exists()


def test_default_backend_is_created_under_the_project(tmp_path: Path, clean_env: None) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: btp-infra\nruntime: python\n")
    backend = resolve_backend(tmp_path)
    state = tmp_path.resolve() / ".pulumi-state"
    assert backend.url == f"file://{state}" and backend.env == {"PULUMI_BACKEND_URL": f"file://{state}"}
    assert state.is_dir()


def test_unknown_operation_is_a_usage_error(fleet: Fleet) -> None:
    result = run_fleet("import", [], project_dir=fleet.project)
    assert (
        result.exit_code == 2
        and result.error == "unknown operation 'import'; valid: preview, up, refresh, destroy"
    )
