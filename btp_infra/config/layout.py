"""Where a project's stack files are: ``stackConfigDir`` from ``Pulumi.yaml``, and stack names.

Owns: :func:`stack_file_for`, :func:`stack_name_of` and :func:`discover_stacks`. ``Pulumi.yaml`` comes from
pull requests too, so it is read within the same limits as a stack file.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from btp_infra.config.yamltext import MAX_STACK_FILE_BYTES, load_yaml_text
from btp_infra.limits import read_regular_file

_PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


def _stack_config_dir(project_dir: Path) -> Path:
    """``stackConfigDir`` from ``Pulumi.yaml`` (the project directory when unset or unreadable)."""
    for name in _PROJECT_FILES:
        project_file = project_dir / name
        if project_file.is_file():
            try:  # bounded like a stack file: in a pull request, Pulumi.yaml is untrusted input too
                data = read_regular_file(project_file, limit=MAX_STACK_FILE_BYTES)
                project = load_yaml_text(data.decode("utf-8"))
            except (OSError, ValueError, yaml.YAMLError):  # ValueError: not UTF-8, a FIFO, too large
                return project_dir
            stack_dir = project.get("stackConfigDir") if isinstance(project, dict) else None
            if isinstance(stack_dir, str):
                return project_dir / stack_dir
            return project_dir
    return project_dir


def stack_file_for(stack: str, project_dir: str | Path = ".") -> Path:
    """The stack file of ``stack`` (``org/project/name`` uses ``name``), honouring ``stackConfigDir``."""
    name = stack.rsplit("/", 1)[-1]
    return _stack_config_dir(Path(project_dir)) / f"Pulumi.{name}.yaml"


def stack_name_of(path: str | Path) -> str:
    """``stacks/Pulumi.incident.yaml`` → ``incident``."""
    name = Path(path).name
    for suffix in (".yaml", ".yml"):
        if name.startswith("Pulumi.") and name.endswith(suffix):
            return name[len("Pulumi.") : -len(suffix)]
    raise ValueError(f"{path} is not a Pulumi.<stack>.yaml file")


def discover_stacks(project_dir: str | Path = ".") -> list[Path]:
    """Every ``Pulumi.<stack>.yaml`` in the stack config directory, sorted by path."""
    directory = _stack_config_dir(Path(project_dir))
    found = [
        p
        for pattern in ("Pulumi.*.yaml", "Pulumi.*.yml")
        for p in directory.glob(pattern)
        if p.is_file() and p.name not in _PROJECT_FILES
    ]
    return sorted(found)
