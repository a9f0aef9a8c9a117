"""The declared shape of each dynamic resource: its inputs, outputs, replace keys and input checks.

Owns :class:`ResourceSpec`, the per-key input checks it runs, and the unknown-aware comparison of inputs. A
resource declares its wire keys once, as two ``TypedDict`` classes (inputs and outputs, camelCase, exactly as
stored in state and seen by policies), and one :class:`ResourceSpec` built from them. ``check``, ``diff``,
the props of the ``Resource`` constructor, the inputs copied into outputs and the behaviour-only test all
derive from that declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, DiffResult
from pulumi.output import Unknown
from pulumi.runtime import rpc

from btp_infra.btp.sm_models import SM_LABEL_KEY
from btp_infra.conventions import BEHAVIOUR_KEYS, GUID_RE, PROVIDER_KEY

__all__ = [
    "Check",
    "ResourceSpec",
    "adopt_lookup",
    "check_result",
    "contains_unknowns",
    "diff_inputs",
    "is_unknown",
    "optional_bool",
    "optional_mapping",
    "optional_timeout",
    "required_str",
    "sm_labels",
]

Check = Callable[[Mapping[str, Any], str, list[CheckFailure]], None]
"""Validates ``news[key]`` and appends a :class:`CheckFailure` per problem (unknown values pass)."""


def is_unknown(value: Any) -> bool:
    """True for a value the engine does not know yet (preview).

    The engine sends an unknown as the sentinel string :data:`pulumi.runtime.rpc.UNKNOWN`; the dynamic
    provider server deserializes ``Check`` and ``Diff`` requests with ``keep_unknowns=True``
    (``pulumi/dynamic/__main__.py``), so there it arrives as a :class:`pulumi.output.Unknown` object. Both
    forms are unknown. Only the value itself is tested: see :func:`contains_unknowns` for nested ones.
    """
    return isinstance(value, Unknown) or (isinstance(value, str) and value == rpc.UNKNOWN)


def contains_unknowns(value: Any) -> bool:
    """True when ``value`` is unknown or holds an unknown at any depth (lists, mappings)."""
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknowns(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknowns(v) for v in value)
    return False


def diff_inputs(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    *,
    keys: tuple[str, ...] | list[str],
    replace_keys: tuple[str, ...] | list[str],
    delete_before_replace: bool = False,
) -> DiffResult:
    """Compare the declared inputs only (never computed outputs or ``__provider``).

    A new value that is (or holds) an unknown counts as changed: it may differ once known. Keys in
    ``replace_keys`` force replacement.
    """
    changed = [k for k in keys if contains_unknowns(news.get(k)) or olds.get(k) != news.get(k)]
    replaces = [k for k in changed if k in replace_keys]
    return DiffResult(
        changes=bool(changed),
        replaces=replaces,
        delete_before_replace=delete_before_replace and bool(replaces),
    )


def check_result(news: Mapping[str, Any], failures: list[CheckFailure]) -> CheckResult:
    """Pass the inputs through (minus ``__provider``, which the server re-adds), unknowns unchanged: the
    server serializes an :class:`~pulumi.output.Unknown` back to the engine's sentinel."""
    return CheckResult({k: v for k, v in news.items() if k != PROVIDER_KEY}, failures)


# ---- input checks (one signature, so that a spec can name them per key) ---------------------------


def required_str(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    """A non-empty string."""
    value = news.get(key)
    if is_unknown(value):
        return
    if not isinstance(value, str) or not value.strip():
        failures.append(CheckFailure(key, f"{key} must be a non-empty string, got {value!r}"))


def optional_timeout(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    """Absent, or a positive number of seconds."""
    value = news.get(key)
    if value is None or is_unknown(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        failures.append(CheckFailure(key, f"{key} must be > 0 seconds, got {value!r}"))


def optional_bool(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    """Absent, true or false."""
    value = news.get(key)
    if value is not None and not is_unknown(value) and not isinstance(value, bool):
        failures.append(CheckFailure(key, f"{key} must be true or false, got {value!r}"))


def adopt_lookup(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    """Absent, ``true`` (find the object by its declared name) or a Service Manager id (``adopt``)."""
    value = news.get(key)
    if value is None or value is True or is_unknown(value):
        return
    if not isinstance(value, str) or not GUID_RE.fullmatch(value):
        failures.append(CheckFailure(key, f"{key} must be true or a Service Manager GUID, got {value!r}"))


def optional_mapping(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    """Absent, or an object (e.g. SM ``parameters``)."""
    value = news.get(key)
    if value is None or is_unknown(value):
        return
    if not isinstance(value, Mapping):
        failures.append(CheckFailure(key, f"{key} must be an object, got {type(value).__name__}"))


def sm_labels(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    """SM labels (btp-api.md §B.8): key ``[A-Za-z0-9._-]`` → non-empty list of unique non-empty strings."""
    labels = news.get(key)
    if labels is None or is_unknown(labels):
        return
    if not isinstance(labels, Mapping):
        failures.append(CheckFailure(key, f"{key} must be an object, got {type(labels).__name__}"))
        return
    for label, values in labels.items():
        if not isinstance(label, str) or not SM_LABEL_KEY.fullmatch(label):
            failures.append(
                CheckFailure(key, f"label key {label!r} must be 1-100 characters of [A-Za-z0-9._-]")
            )
        if contains_unknowns(values):
            continue
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and 0 < len(v) <= 255 for v in values)
            or len(set(values)) != len(values)
        ):
            failures.append(
                CheckFailure(
                    key,
                    f"label {label!r} needs a non-empty list of unique, non-empty strings (≤ 255 characters)",
                )
            )


# ---- the declaration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceSpec:
    """Wire keys of one dynamic resource and what each input means to ``check`` and ``diff``.

    Build it with :meth:`of` from the resource's input and output ``TypedDict`` classes (their key order is
    the order of the props in state). ``inputs`` are what the program declares (the keys ``diff`` compares
    and every create/update copies into the outputs); ``outputs`` are computed (``None`` until created).
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    replace_on: tuple[str, ...] = ()
    checks: tuple[tuple[str, Check], ...] = ()
    secret_outputs: tuple[str, ...] = ()
    behaviour: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        declared = set(self.inputs)
        if overlap := declared & set(self.outputs):
            raise ValueError(f"keys both input and output: {sorted(overlap)}")
        for keys, what in (
            (self.replace_on, "replace_on"),
            ((k for k, _ in self.checks), "checks"),
        ):
            if unknown := set(keys) - declared:
                raise ValueError(f"{what} names keys that are not inputs: {sorted(unknown)}")
        if not set(self.secret_outputs) <= set(self.outputs):
            raise ValueError("secret_outputs must be outputs")
        # Behaviour-only inputs never replace: a change of one must reach state through an update.
        if misplaced := set(self.replace_on) & set(BEHAVIOUR_KEYS):
            raise ValueError(f"behaviour-only inputs cannot force replacement: {sorted(misplaced)}")
        object.__setattr__(self, "behaviour", tuple(k for k in self.inputs if k in BEHAVIOUR_KEYS))

    @classmethod
    def of(
        cls,
        inputs: type[Mapping[str, Any]],
        outputs: type[Mapping[str, Any]],
        *,
        replace_on: tuple[str, ...] = (),
        checks: Mapping[str, Check] | None = None,
        secret_outputs: tuple[str, ...] = (),
    ) -> ResourceSpec:
        """The spec of the resource whose keys are those of the ``inputs`` and ``outputs`` TypedDicts."""
        input_keys = tuple(inputs.__annotations__)
        ordered = sorted((checks or {}).items(), key=lambda item: _position(input_keys, item[0]))
        return cls(
            inputs=input_keys,
            outputs=tuple(outputs.__annotations__),
            replace_on=replace_on,
            checks=tuple(ordered),
            secret_outputs=secret_outputs,
        )

    def props(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The props of the ``Resource`` constructor: every input (as given), every output ``None``."""
        if extra := set(inputs) - set(self.inputs):
            raise ValueError(f"not inputs of this resource: {sorted(extra)}")
        return {**{k: inputs.get(k) for k in self.inputs}, **dict.fromkeys(self.outputs)}

    def options(self, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions | None:
        """``opts`` with the secret outputs added (``None`` stays ``None`` when there are none)."""
        if not self.secret_outputs:
            return opts
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(self.secret_outputs))
        return pulumi.ResourceOptions.merge(secret, opts)

    def failures(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """The declared checks of the inputs, in input order."""
        found: list[CheckFailure] = []
        for key, check in self.checks:
            check(news, key, found)
        return found

    def check(self, news: Mapping[str, Any], *extra: CheckFailure) -> CheckResult:
        """``check``'s answer: the declared checks' failures, then ``extra`` (checks of olds against news)."""
        return check_result(news, [*self.failures(news), *extra])

    def diff(
        self, olds: Mapping[str, Any], news: Mapping[str, Any], *, delete_before_replace: bool = False
    ) -> DiffResult:
        """:func:`diff_inputs` over the declared inputs and replace keys."""
        return diff_inputs(
            olds,
            news,
            keys=self.inputs,
            replace_keys=self.replace_on,
            delete_before_replace=delete_before_replace,
        )

    def inputs_of(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """The declared inputs out of a resource's full state (or the engine's new inputs)."""
        return {k: props.get(k) for k in self.inputs}

    def behaviour_only(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
        """True when no input other than a behaviour-only one differs: an update that calls no API."""
        return all(olds.get(k) == news.get(k) for k in self.inputs if k not in self.behaviour)


def _position(keys: tuple[str, ...], key: str) -> int:
    return keys.index(key) if key in keys else len(keys)
