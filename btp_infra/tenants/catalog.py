"""The tenant catalog: add, list, show and remove tenant stack files (``stacks/Pulumi.<stack>.yaml``).

Owns: writing a new stack file only after the real loader (:func:`btp_infra.config.load_stack_file`) and the
fleet rules (:func:`btp_infra.config.validate_fleet`) accept it, atomically and never over an existing file;
the rows of ``tenant list``; the redacted config of ``tenant show``; removing a stack file only when its stack
has no resources left (or when forced). Nothing here talks to a backend: callers pass what they know.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

import yaml

from btp_infra.config import (
    ConfigError,
    ConfigIssue,
    TenantConfig,
    discover_stacks,
    load_stack_file,
    load_yaml_text,
    parse_config,
    stack_file_for,
    stack_name_of,
    validate_fleet,
)
from btp_infra.tenants.render import (
    STACK_NAME_RE,
    VALID_STACK_NAME,
    UnrenderableValue,
    render_stack_file,
    to_yaml_data,
)

try:  # POSIX: serialise concurrent `tenant add`s on one directory (the fleet check, then the write)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "TenantError",
    "TenantRow",
    "add_tenant",
    "list_tenants",
    "remove_tenant",
    "show_tenant",
    "tenant_values",
]

_VALID_KUBECONFIG: Final = (
    "a path to a kubeconfig file (its content only as a secret: "
    "pulumi config set --secret btp-infra:kubeconfig < kubeconfig.yaml)"
)


class TenantError(ConfigError):
    """A refused catalog operation: one line per problem, each naming the stack file, the key, the value and
    what is valid (a :class:`~btp_infra.config.ConfigError`, so it renders like every config problem)."""


NO_VALUE: Final = ConfigIssue("", "").value
"""The value of an issue that is about a file or a key, not a value (the config package's marker)."""


def _refuse(
    source: Path | str,
    key: str,
    message: str,
    valid: str = "",
    *,
    value: object = NO_VALUE,
    secret: bool = False,
) -> TenantError:
    return TenantError([ConfigIssue(str(source), key, value, message, valid, secret=secret)])


# ---- add ----------------------------------------------------------------------------------------


def _kubeconfig_path(value: str | os.PathLike[str], source: Path) -> str:
    """The kubeconfig as a path (never its content: that would put a secret into the file)."""
    text = os.fspath(value)
    stripped = text.strip()
    content = "\n" in stripped or "\r" in stripped or stripped.startswith(("{", "["))
    if not content:
        try:
            content = isinstance(load_yaml_text(stripped), dict)
        except (ValueError, yaml.YAMLError):
            content = False
    if content:
        raise _refuse(
            source, "kubeconfig", "is a kubeconfig's content, not a path", _VALID_KUBECONFIG, secret=True
        )
    if not stripped:
        raise _refuse(source, "kubeconfig", "is empty", _VALID_KUBECONFIG, value=text)
    return text


def tenant_values(
    *,
    namespace: str,
    subaccount_id: str | None = None,
    subaccount: Mapping[str, object] | None = None,
    subdomain_prefix: str | None = None,
    kube_context: str | None = None,
    region: str | None = None,
    credential_type: str | None = None,
    x509: Mapping[str, object] | None = None,
    secret_placement: str | None = None,
    management_namespace: str | None = None,
    entitlements: Sequence[Mapping[str, object]] | None = None,
    labels: Mapping[str, object] | None = None,
    quota: Mapping[str, object] | None = None,
    limit_range: Mapping[str, Mapping[str, object]] | None = None,
    network_policy: str | None = None,
    mtls: bool | None = None,
    protect: bool | None = None,
    take_ownership: bool | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    cluster_identifier: str | None = None,
    keyring_profile: str | None = None,
    timeouts: Mapping[str, object] | None = None,
    adopt: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The camelCase ``btp-infra`` values of a stack file from keyword options; None = not set (default).

    Not validated here (the config model does that) except that ``kubeconfig`` must be a path."""
    given: dict[str, object] = {
        "namespace": namespace,
        "subaccountId": subaccount_id,
        "subaccount": subaccount,
        "subdomainPrefix": subdomain_prefix,
        "region": region,
        "credentialType": credential_type,
        "x509": x509,
        "secretPlacement": secret_placement,
        "managementNamespace": management_namespace,
        "entitlements": entitlements,
        "labels": labels,
        "quota": quota,
        "limitRange": limit_range,
        "networkPolicy": network_policy,
        "mtls": mtls,
        "protect": protect,
        "takeOwnership": take_ownership,
        "kubeContext": kube_context,
        "kubeconfig": kubeconfig,
        "clusterIdentifier": cluster_identifier,
        "keyringProfile": keyring_profile,
        "timeouts": timeouts,
        "adopt": adopt,
    }
    return {key: value for key, value in given.items() if value is not None}


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``directory`` itself (no lock file is left behind); a no-op where unsupported."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. no permission to open the directory
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _existing_stack(stack: str, stacks_dir: Path) -> Path | None:
    """The stack file of ``stack`` if one exists (``.yaml`` or ``.yml``)."""
    target = stack_file_for(stack, stacks_dir)
    for candidate in (target, target.with_suffix(".yml")):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return None


def _existing_configs(stacks_dir: Path) -> dict[str, TenantConfig]:
    """Every stack file that loads, by path (files that do not load are ``btp-infra validate``'s business)."""
    configs: dict[str, TenantConfig] = {}
    for path in discover_stacks(stacks_dir):
        with contextlib.suppress(ConfigError):
            configs[str(path)] = load_stack_file(path)
    return configs


def _renamed(issue: ConfigIssue, old: str, new: str) -> ConfigIssue:
    """``issue`` with the temporary file's name replaced by the stack file's."""
    return dataclasses.replace(
        issue,
        source=issue.source.replace(old, new),
        message=issue.message.replace(old, new),
        valid=issue.valid.replace(old, new),
    )


def _fleet_issues(existing: Mapping[str, TenantConfig], new_key: str, new: TenantConfig) -> list[ConfigIssue]:
    """The fleet issues the new stack adds (each names both files), by :func:`validate_fleet`'s rules."""
    before = Counter(issue.render() for issue in validate_fleet(existing))
    added: list[ConfigIssue] = []
    for issue in validate_fleet({**existing, new_key: new}):
        text = issue.render()
        if before[text]:
            before[text] -= 1
        else:
            added.append(issue)
    return added


def _write_temporary(directory: Path, text: str) -> Path:
    """``text`` in a new file in ``directory`` (the usual permissions: it holds no secret), named so that no
    stack discovery matches it."""
    while True:
        path = directory / f".tenant-add-{secrets.token_hex(8)}.yaml.tmp"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue
        break
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _publish(temporary: Path, target: Path) -> None:
    """Move ``temporary`` to ``target`` atomically, never over an existing file."""
    try:
        os.link(temporary, target)  # fails if target exists: no check-then-replace race
    except FileExistsError:
        raise _refuse(target, "", "already exists", "a stack name no other stack file uses") from None
    except OSError:  # pragma: no cover - a filesystem without hard links
        if target.exists():
            raise _refuse(target, "", "already exists", "a stack name no other stack file uses") from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def _check_stack_name(stack: str, stacks_dir: Path) -> Path:
    """The stack file to write; refuses a bad stack name or an existing stack."""
    if not STACK_NAME_RE.fullmatch(stack):
        source = stacks_dir / f"Pulumi.{stack}.yaml" if "/" not in stack and "\n" not in stack else stacks_dir
        raise _refuse(source, "", f"stack name {stack[:60]!r} is not valid", VALID_STACK_NAME)
    target = stack_file_for(stack, stacks_dir)
    existing = _existing_stack(stack, stacks_dir)
    if existing is not None:
        names = sorted(stack_name_of(p) for p in discover_stacks(stacks_dir))
        shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
        raise _refuse(
            existing,
            "",
            f"stack {stack!r} already exists",
            f"a stack name no other stack file uses (existing: {shown}); tenant remove it first",
        )
    if not target.parent.is_dir():
        raise _refuse(
            target.parent,
            "",
            "is not a directory",
            "an existing stacks directory (stackConfigDir of Pulumi.yaml)",
        )
    return target


def add_tenant(
    name: str,
    *,
    namespace: str,
    subaccount_id: str | None = None,
    stacks_dir: str | Path,
    subaccount: Mapping[str, object] | None = None,
    subdomain_prefix: str | None = None,
    stack: str | None = None,
    kube_context: str | None = None,
    region: str | None = None,
    credential_type: str | None = None,
    x509: Mapping[str, object] | None = None,
    secret_placement: str | None = None,
    management_namespace: str | None = None,
    entitlements: Sequence[Mapping[str, object]] | None = None,
    labels: Mapping[str, object] | None = None,
    quota: Mapping[str, object] | None = None,
    limit_range: Mapping[str, Mapping[str, object]] | None = None,
    network_policy: str | None = None,
    mtls: bool | None = None,
    protect: bool | None = None,
    take_ownership: bool | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    cluster_identifier: str | None = None,
    keyring_profile: str | None = None,
    timeouts: Mapping[str, object] | None = None,
    adopt: Mapping[str, object] | None = None,
) -> Path:
    """Write a validated, commented stack file for tenant ``name``; return its path.

    The stack is named ``stack`` (default: ``name``); the file is ``stack_file_for(stack, stacks_dir)``
    (``stacks_dir`` is the stacks directory, or a project directory whose ``Pulumi.yaml`` sets
    ``stackConfigDir``). Options left None are not written (their defaults apply). ``kube_context`` is
    required by the loader (None is refused with its message); ``kubeconfig`` is a path only.

    The would-be file is written to a temporary file in the stacks directory, loaded with the real loader
    and checked against every other stack file that loads (:func:`~btp_infra.config.validate_fleet`: a
    namespace once per cluster, a subaccount once anywhere), then linked into place. Any problem raises
    :class:`TenantError` (one line per problem: file, key, value, what is valid) and leaves no file.
    """
    stack_name = name if stack is None else stack
    directory = Path(stacks_dir)
    target = _check_stack_name(stack_name, directory)
    if kubeconfig is not None:
        kubeconfig = _kubeconfig_path(kubeconfig, target)
    values = tenant_values(
        namespace=namespace,
        subaccount_id=subaccount_id,
        subaccount=subaccount,
        subdomain_prefix=subdomain_prefix,
        kube_context=kube_context,
        region=region,
        credential_type=credential_type,
        x509=x509,
        secret_placement=secret_placement,
        management_namespace=management_namespace,
        entitlements=entitlements,
        labels=labels,
        quota=quota,
        limit_range=limit_range,
        network_policy=network_policy,
        mtls=mtls,
        protect=protect,
        take_ownership=take_ownership,
        kubeconfig=kubeconfig,
        cluster_identifier=cluster_identifier,
        keyring_profile=keyring_profile,
        timeouts=timeouts,
        adopt=adopt,
    )
    data: dict[str, object] = {}
    for key, value in values.items():
        try:
            data[key] = to_yaml_data(key, value)
        except UnrenderableValue as exc:
            raise _refuse(
                target, key, str(exc), "a string, number, boolean, or a mapping/list of those"
            ) from None
    text = render_stack_file(stack_name, data)
    with _directory_lock(target.parent):
        target = _check_stack_name(stack_name, directory)  # again, under the lock
        temporary = _write_temporary(target.parent, text)
        try:
            config = _load_candidate(temporary, target, data)
            existing = _existing_configs(directory)
            added = _fleet_issues(existing, str(temporary), config)
            if added:
                raise TenantError([_renamed(i, str(temporary), str(target)) for i in added])
            _publish(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
    return target


def _load_candidate(temporary: Path, target: Path, data: Mapping[str, object]) -> TenantConfig:
    """The would-be file through the real loader (issues named after ``target``), and a check that the file
    means exactly what was asked."""
    try:
        config = load_stack_file(temporary)
    except ConfigError as exc:
        raise TenantError([_renamed(i, str(temporary), str(target)) for i in exc.issues]) from None
    asked = parse_config(data, source=str(target))
    if config.model_dump() != asked.model_dump():  # pragma: no cover - a rendering bug, never user input
        raise RuntimeError(f"{target}: the rendered stack file does not round-trip")
    return config


# ---- list and show ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantRow:
    """One line of ``tenant list``: a stack file and what it maps (``error`` when the file does not load)."""

    stack: str
    file: str
    namespace: str | None = None
    subaccount: str | None = None
    region: str | None = None
    cluster: str | None = None
    """The cluster identifier: ``clusterIdentifier``, else ``kubeContext``."""
    context: str | None = None
    credential_type: str | None = None
    placement: str | None = None
    protect: bool | None = None
    error: str | None = None
    """The first problem of a stack file that does not load (one line), else None."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "stack",
        "namespace",
        "subaccount",
        "region",
        "context",
        "credential type",
        "placement",
        "protect",
    )
    """The table's column headers (:meth:`cells` gives one row's cells in this order)."""

    def cells(self) -> tuple[str, ...]:
        """The table cells in :attr:`COLUMNS` order (``-``: unset; an invalid file shows its error)."""
        if self.error is not None:
            return (self.stack, f"invalid: {self.error}", "", "", "", "", "", "")
        return (
            self.stack,
            self.namespace or "-",
            self.subaccount or "-",
            self.region or "-",
            self.context or "-",
            self.credential_type or "-",
            self.placement or "-",
            "yes" if self.protect else "no",
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-compatible, keys in camelCase."""
        return {
            "stack": self.stack,
            "file": self.file,
            "namespace": self.namespace,
            "subaccountId": self.subaccount,
            "region": self.region,
            "cluster": self.cluster,
            "kubeContext": self.context,
            "credentialType": self.credential_type,
            "secretPlacement": self.placement,
            "protect": self.protect,
            "error": self.error,
        }


def _row(path: Path) -> TenantRow:
    stack = stack_name_of(path)
    try:
        config = load_stack_file(path)
    except ConfigError as exc:
        first = exc.issues[0].render() if exc.issues else str(exc)
        more = f" (+{len(exc.issues) - 1} more)" if len(exc.issues) > 1 else ""
        prefix = f"{path}: "
        return TenantRow(stack, str(path), error=first.removeprefix(prefix) + more)
    return TenantRow(
        stack=stack,
        file=str(path),
        namespace=config.namespace,
        subaccount=config.subaccount_ref,
        region=config.subaccount_region,
        cluster=config.kube_cluster_identifier,
        context=config.kube_context,
        credential_type=config.credential_type,
        placement=config.secret_placement,
        protect=config.effective_protect,
    )


def list_tenants(stacks_dir: str | Path) -> list[TenantRow]:
    """One row per stack file in ``stacks_dir``, sorted by file; a file that does not load has ``error``."""
    return [_row(path) for path in discover_stacks(stacks_dir)]


def _stack_file(name: str, stacks_dir: Path) -> Path:
    """The existing stack file of stack ``name``; :class:`TenantError` naming the known stacks otherwise."""
    if STACK_NAME_RE.fullmatch(name):
        existing = _existing_stack(name, stacks_dir)
        if existing is not None and existing.is_file():
            return existing
    names = sorted(stack_name_of(p) for p in discover_stacks(stacks_dir))
    shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "") if names else "none"
    where = stack_file_for(name, stacks_dir) if STACK_NAME_RE.fullmatch(name) else stacks_dir
    raise _refuse(where, "", f"no stack file for tenant {name[:60]!r}", f"one of the stacks: {shown}")


def show_tenant(name: str, stacks_dir: str | Path) -> dict[str, object]:
    """Stack ``name``'s config as JSON-compatible data, secrets as ``[secret]``.

    ``{"stack", "file", "config": {camelCase key: value, defaults included}}``. Raises :class:`TenantError`
    when there is no such stack file or it does not load (the loader's issues)."""
    path = _stack_file(name, Path(stacks_dir))
    try:
        config = load_stack_file(path)
    except ConfigError as exc:
        raise TenantError(exc.issues) from None
    return {"stack": stack_name_of(path), "file": str(path), "config": config.redacted()}


# ---- remove -------------------------------------------------------------------------------------


def remove_tenant(
    name: str,
    stacks_dir: str | Path,
    *,
    has_resources: Callable[[str], bool] | None,
    force: bool = False,
) -> Path:
    """Delete stack ``name``'s file (only the file: no backend stack, no cloud object); return its path.

    ``has_resources(stack)`` tells whether the stack still has resources in the backend (the caller asks
    it); while it does, or when that is unknown (``has_resources`` None, or it raises), the file is kept
    and :class:`TenantError` says why, unless ``force``."""
    path = _stack_file(name, Path(stacks_dir))
    stack = stack_name_of(path)
    if not force:
        if has_resources is None:
            raise _refuse(
                path,
                "",
                f"cannot tell whether stack {stack!r} still has resources (no backend was asked)",
                f"pulumi destroy --stack {stack} first, then remove it; or force removing the file only",
            )
        try:
            busy = has_resources(stack)
        except Exception as exc:  # the backend's failure, in one line
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise _refuse(
                path,
                "",
                f"cannot tell whether stack {stack!r} still has resources ({detail})",
                "a reachable backend, or force the removal of the file only",
            ) from None
        if busy:
            raise _refuse(
                path,
                "",
                f"stack {stack!r} still has resources; removing its file would orphan them",
                f"pulumi destroy --stack {stack} first (protected: set protect false, pulumi up), "
                "or force removing the file only",
            )
    path.unlink()
    return path
