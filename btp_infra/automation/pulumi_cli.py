"""Finding the Pulumi CLI and checking it against ``requiredPulumiVersion`` before anything else runs.

Owns: :class:`FleetSetupError` (one line, exit code 2: nothing was attempted), :func:`required_pulumi_version`
(read from ``Pulumi.yaml``), :func:`version_satisfies` (the semver range grammar Pulumi accepts there:
space-separated comparators, alternatives joined by ``||``) and :func:`find_pulumi_cli`, which runs
``pulumi version`` exactly once and returns a :class:`PulumiCli` usable as the Automation API's
``PulumiCommand`` for every workspace of a fleet run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import yaml
from pulumi.automation import PulumiCommand
from pulumi.automation._cmd import CommandResult, OnOutput
from semver import VersionInfo

__all__ = [
    "INSTALL_URL",
    "MAX_PROJECT_FILE_BYTES",
    "FleetSetupError",
    "PulumiCli",
    "find_pulumi_cli",
    "read_project_file",
    "read_yaml_mapping",
    "required_pulumi_version",
    "version_satisfies",
]

INSTALL_URL: Final = "https://www.pulumi.com/docs/install/"
MAX_PROJECT_FILE_BYTES: Final = 1024 * 1024
"""``Pulumi.yaml`` comes from pull requests too: read at most 1 MiB of a regular file."""
_PROJECT_FILES: Final = ("Pulumi.yaml", "Pulumi.yml")
_VERSION_TIMEOUT: Final = 60.0
_COMPARATOR_RE: Final = re.compile(r"(>=|<=|==|!=|>|<|=)?\s*v?([0-9][0-9A-Za-z.+-]*)")


class FleetSetupError(Exception):
    """The fleet run cannot start (no CLI, too old a CLI, no passphrase, unknown stack, usage): one line,
    nothing was attempted. :attr:`exit_code` is 2."""

    exit_code: int = 2


def read_yaml_mapping(path: Path) -> dict[str, object]:
    """A YAML mapping from a regular file of at most 1 MiB; :class:`FleetSetupError` otherwise."""
    if not path.is_file():
        raise FleetSetupError(f"{path}: not a regular file")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PROJECT_FILE_BYTES + 1)
    except OSError as exc:
        raise FleetSetupError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_PROJECT_FILE_BYTES:
        raise FleetSetupError(f"{path}: larger than 1 MiB")
    try:
        loaded = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        raise FleetSetupError(f"{path}: not valid YAML") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise FleetSetupError(f"{path}: not a YAML mapping")
    return {str(k): v for k, v in loaded.items()}


def read_project_file(project_dir: Path) -> tuple[Path, dict[str, object]] | None:
    """``Pulumi.yaml`` (or ``.yml``) of ``project_dir`` as a mapping, None when there is none.
    :class:`FleetSetupError` when it cannot be read or is not a YAML mapping."""
    for name in _PROJECT_FILES:
        path = project_dir / name
        if path.exists():
            return path, read_yaml_mapping(path)
    return None


def required_pulumi_version(project_dir: Path) -> str | None:
    """``requiredPulumiVersion`` of the project (None when unset or there is no ``Pulumi.yaml``)."""
    found = read_project_file(project_dir)
    if found is None:
        return None
    value = found[1].get("requiredPulumiVersion")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise FleetSetupError(f"{found[0]}: requiredPulumiVersion must be a version range like '>=3.139.0'")
    return value.strip()


def _comparator_holds(op: str, bound: VersionInfo, version: VersionInfo) -> bool:
    cmp = version.compare(bound)
    return {
        ">=": cmp >= 0,
        "<=": cmp <= 0,
        ">": cmp > 0,
        "<": cmp < 0,
        "!=": cmp != 0,
        "=": cmp == 0,
        "==": cmp == 0,
        "": cmp == 0,
    }[op]


def _parse_range(spec: str) -> list[list[tuple[str, VersionInfo]]]:
    alternatives: list[list[tuple[str, VersionInfo]]] = []
    for alternative in spec.split("||"):
        text = alternative.strip()
        if not text:
            raise ValueError(f"empty alternative in {spec!r}")
        comparators: list[tuple[str, VersionInfo]] = []
        position = 0
        while position < len(text):
            if text[position].isspace():
                position += 1
                continue
            match = _COMPARATOR_RE.match(text, position)
            if match is None:
                raise ValueError(f"cannot read the version range {spec!r}")
            try:
                comparators.append((match.group(1) or "", VersionInfo.parse(match.group(2))))
            except ValueError:
                raise ValueError(f"cannot read the version range {spec!r}") from None
            position = match.end()
        alternatives.append(comparators)
    return alternatives


def version_satisfies(version: VersionInfo, spec: str) -> bool:
    """Whether ``version`` is in ``spec`` (``>=3.139.0``, ``>=3.139.0 <4.0.0``, ``3.150.0 || >=3.160.0``).
    :class:`ValueError` for a range this grammar does not cover."""
    return any(
        all(_comparator_holds(op, bound, version) for op, bound in comparators)
        for comparators in _parse_range(spec)
    )


def _below_every_lower_bound(version: VersionInfo, spec: str) -> bool:
    """Whether ``version`` is older than every alternative's lower bound (so "upgrade" is the advice)."""
    lower_bounds = [
        bound
        for comparators in _parse_range(spec)
        for op, bound in comparators
        if op in (">=", ">", "=", "==", "")
    ]
    return bool(lower_bounds) and all(version.compare(bound) < 0 for bound in lower_bounds)


class PulumiCli(PulumiCommand):
    """The Pulumi CLI found once for a fleet run, shared by every workspace (``pulumi_command=``).

    ``secret_env`` (the passphrase from the keyring, for example) is added to the environment of every
    invocation — and only there: it is neither on the command line nor in any workspace's ``env_vars``
    (whose ``repr`` the Automation API prints), and :func:`repr` of this object names the keys only.
    """

    def __init__(self, command: str, version: VersionInfo, secret_env: Mapping[str, str] | None = None):
        # PulumiCommand.__init__ would run `pulumi version` again: find_pulumi_cli already did.
        self.command = command
        self.version = version
        self._secret_env = dict(secret_env or {})

    def with_secret_env(self, secret_env: Mapping[str, str]) -> PulumiCli:
        """A copy that also passes ``secret_env`` to every invocation."""
        assert self.version is not None
        return PulumiCli(self.command, self.version, {**self._secret_env, **secret_env})

    @property
    def secret_env_keys(self) -> tuple[str, ...]:
        return tuple(sorted(self._secret_env))

    def __repr__(self) -> str:
        return (
            f"PulumiCli(command={self.command!r}, version={self.version}, secret_env={self.secret_env_keys})"
        )

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: OnOutput | None = None,
        on_error: OnOutput | None = None,
    ) -> CommandResult:
        return super().run(args, cwd, {**additional_env, **self._secret_env}, on_output, on_error)


def find_pulumi_cli(
    project_dir: Path, *, pulumi_root: str | None = None, environ: Mapping[str, str] | None = None
) -> PulumiCli:
    """The Pulumi CLI on ``PATH`` (or ``<pulumi_root>/bin/pulumi``), checked against the project's
    ``requiredPulumiVersion``. :class:`FleetSetupError` (one line with how to install or upgrade) when it
    is missing, does not run, or is too old."""
    env = dict(os.environ if environ is None else environ)
    required = required_pulumi_version(project_dir)
    needs = f" (this project needs {required})" if required else ""
    if pulumi_root:
        candidate = str(Path(pulumi_root) / "bin" / "pulumi")
        command = candidate if os.access(candidate, os.X_OK) else None
    else:
        command = shutil.which("pulumi", path=env.get("PATH"))
    if command is None:
        raise FleetSetupError(
            f"the Pulumi CLI is not installed (no 'pulumi' on PATH){needs}; install it: {INSTALL_URL}"
        )
    try:
        completed = subprocess.run(  # noqa: S603 - a fixed argv, no shell
            [command, "version"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            env={**env, "PULUMI_SKIP_UPDATE_CHECK": "true"},
            timeout=_VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FleetSetupError(
            f"the Pulumi CLI at {command} does not run ({type(exc).__name__}); reinstall it: {INSTALL_URL}"
        ) from None
    text = completed.stdout.strip().removeprefix("v")
    try:
        version = VersionInfo.parse(text)
    except ValueError:
        version = None
    if completed.returncode != 0 or version is None:
        raise FleetSetupError(
            f"the Pulumi CLI at {command} did not report its version (`pulumi version`); reinstall it: "
            f"{INSTALL_URL}"
        )
    if required:
        try:
            satisfied = version_satisfies(version, required)
        except ValueError as exc:
            raise FleetSetupError(f"Pulumi.yaml: requiredPulumiVersion: {exc}") from None
        if not satisfied:
            raise FleetSetupError(
                f"the Pulumi CLI {version} is older than this project requires (requiredPulumiVersion "
                f"{required} in Pulumi.yaml); upgrade it: {INSTALL_URL}"
                if _below_every_lower_bound(version, required)
                else f"the Pulumi CLI {version} does not meet this project's requiredPulumiVersion "
                f"{required} (Pulumi.yaml); install a matching version: {INSTALL_URL}"
            )
    return PulumiCli(command, version)
