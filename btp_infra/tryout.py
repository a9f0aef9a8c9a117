"""``btp-infra try``: one tenant end to end through the real Pulumi engine, no BTP account, no cluster.

Owns the try-out project: a throwaway Pulumi project in a temporary directory whose ``main`` is this
repository's program (an absolute ``main`` is the program directory: ``pkg/engine/project.go``,
``getPwdMain``) and whose virtualenv is the one running btp-infra, a local file backend inside it, a random
passphrase, and a copy of the tenant's stack file pointed at the sandbox: its secrets and cluster settings
dropped, ``renderYamlToDirectory`` set, so pulumi-kubernetes writes the objects as YAML files instead of
applying them (``provider.go``: yamlRenderMode, no cluster contacted). The BTP emulator is seeded with the
tenant's subaccount; its cis key reaches Pulumi through the environment only. After ``up``, the rendered
objects are listed with every Secret value redacted.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from btp_infra.config import load_stack_file, load_yaml_text, stack_name_of
from btp_infra.conventions import CONFIG_CIS_KEY, CONFIG_KEYRING_PROFILE, config_key

__all__ = [
    "TRY_CONTEXT",
    "RenderedObject",
    "TryoutProject",
    "prepare_project",
    "rendered_objects",
    "tryout_stack_config",
]

#: The kube context of a try-out stack: a name only, no cluster behind it (nothing is applied).
TRY_CONTEXT = "btp-infra-try"
REDACTED = "[secret]"
#: Keys of the user's stack file the try-out leaves out: credentials and the cluster it must not touch.
_DROPPED = {
    CONFIG_CIS_KEY,
    CONFIG_KEYRING_PROFILE,
    config_key("kubeconfig"),
    config_key("kubeContext"),
    config_key("clusterIdentifier"),
    config_key("renderYamlToDirectory"),
}


def tryout_stack_config(stack_file: Path, out_dir: Path) -> dict[str, Any]:
    """The try-out stack's ``config:`` mapping: the tenant's own settings (validated first with the real
    loader, so a bad file fails here with its one-line messages), minus credentials and cluster settings,
    plus ``kubeContext`` = :data:`TRY_CONTEXT` and ``renderYamlToDirectory`` = ``out_dir``."""
    load_stack_file(stack_file)
    document = load_yaml_text(stack_file.read_text(encoding="utf-8"))  # the config model's hardened loader
    assert isinstance(document, dict)  # load_stack_file accepted it
    config = {k: v for k, v in dict(document.get("config") or {}).items() if k not in _DROPPED}
    config[config_key("kubeContext")] = TRY_CONTEXT
    config[config_key("renderYamlToDirectory")] = str(out_dir)
    return config


@dataclass(frozen=True)
class TryoutProject:
    """A prepared try-out: the project directory, its stack, where objects are rendered, the backend."""

    project_dir: Path
    stack: str
    out_dir: Path
    backend_url: str
    #: ``None`` when the stack creates its subaccount (``btp-infra:subaccount``): nothing to seed.
    subaccount_id: str | None
    region: str | None


def prepare_project(
    stack_file: Path, *, repo_dir: Path, work_dir: Path, out_dir: Path, python_prefix: str | None = None
) -> TryoutProject:
    """Write the try-out project into ``work_dir`` (see the module docstring); nothing else is touched."""
    tenant = load_stack_file(stack_file)
    stack = stack_name_of(stack_file)
    project = yaml.safe_load((repo_dir / "Pulumi.yaml").read_text(encoding="utf-8"))
    state = work_dir / "state"
    state.mkdir(parents=True, exist_ok=True)
    (work_dir / "stacks").mkdir(exist_ok=True)
    settings = {
        "name": project["name"],
        "description": "btp-infra try-out (throwaway)",
        "main": str(repo_dir.resolve()),
        "stackConfigDir": "stacks",
        "runtime": {
            "name": "python",
            "options": {"toolchain": "pip", "virtualenv": python_prefix or sys.prefix},
        },
        "backend": {"url": state.resolve().as_uri()},
    }
    if "requiredPulumiVersion" in project:
        settings["requiredPulumiVersion"] = project["requiredPulumiVersion"]
    (work_dir / "Pulumi.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    config = tryout_stack_config(stack_file, out_dir.resolve())
    (work_dir / "stacks" / f"Pulumi.{stack}.yaml").write_text(
        yaml.safe_dump({"config": config}, sort_keys=False), encoding="utf-8"
    )
    return TryoutProject(
        project_dir=work_dir,
        stack=stack,
        out_dir=out_dir.resolve(),
        backend_url=state.resolve().as_uri(),
        subaccount_id=tenant.subaccount_id,
        region=tenant.subaccount_region,
    )


def tryout_environment(project: TryoutProject, cis_key_json: str) -> dict[str, str]:
    """What the Pulumi processes get on top of the caller's environment: the backend, a random passphrase
    for this throwaway state, and the sandbox's cis key (environment only: never argv, never a file)."""
    return {
        "PULUMI_BACKEND_URL": project.backend_url,
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
        "BTP_CIS_SERVICE_KEY": cis_key_json,
    }


@contextmanager
def workspace() -> Iterator[Path]:
    """A temporary directory for the try-out project, removed afterwards (state included)."""
    path = Path(tempfile.mkdtemp(prefix="btp-infra-try-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class RenderedObject:
    """One rendered Kubernetes object: what it is and, for a Secret, its key names only."""

    kind: str
    namespace: str | None
    name: str
    file: str
    data_keys: tuple[str, ...] = ()

    def line(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        keys = f"  keys: {', '.join(self.data_keys)} (values {REDACTED})" if self.data_keys else ""
        return f"{self.kind:<20} {where}{self.name}{keys}"


def _documents(path: Path) -> Iterator[Mapping[str, Any]]:
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if isinstance(document, Mapping):
            yield document


def rendered_objects(out_dir: Path) -> list[RenderedObject]:
    """The objects pulumi-kubernetes wrote to ``out_dir`` (its ``0-crd`` and ``1-manifest`` folders), in
    file order. A Secret shows its key names only: its values never leave the files."""
    found: list[RenderedObject] = []
    if not out_dir.is_dir():
        return found
    for path in sorted(out_dir.rglob("*.yaml")):
        for document in _documents(path):
            meta = document.get("metadata") or {}
            kind = str(document.get("kind", "?"))
            keys: tuple[str, ...] = ()
            if kind == "Secret":
                data = {**(document.get("data") or {}), **(document.get("stringData") or {})}
                keys = tuple(sorted(str(k) for k in data))
            found.append(
                RenderedObject(
                    kind=kind,
                    namespace=meta.get("namespace"),
                    name=str(meta.get("name", "?")),
                    file=str(path.relative_to(out_dir)),
                    data_keys=keys,
                )
            )
    return found
