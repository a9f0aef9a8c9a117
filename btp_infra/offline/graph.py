"""The resource graph of a rendered stack, as plain data: what the engine would receive per registration.

Owns :class:`RenderedResource` and :class:`RenderResult` and the helpers for Pulumi's secret envelope
(``{SECRET_SIG_KEY: SECRET_SIG_VALUE, "value": v}``). No Pulumi runtime here: the renderer fills these in,
the analyzer bridge, the redaction and the local engine read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from btp_infra.conventions import PROVIDER_KEY, SECRET_SIG_KEY, SECRET_SIG_VALUE

REDACTED = "[secret]"
"""What people see instead of a secret value."""


def is_secret_envelope(value: Any) -> bool:
    """True for the wire form of a secret value."""
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE


def unwrap_secrets(value: Any) -> Any:
    """The value with every secret envelope replaced by its plain content (what policies see)."""
    if is_secret_envelope(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def redact_secrets(value: Any, placeholder: str = REDACTED) -> Any:
    """The value with every secret envelope replaced by ``placeholder`` (what people see)."""
    if is_secret_envelope(value):
        return placeholder
    if isinstance(value, dict):
        return {k: redact_secrets(v, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v, placeholder) for v in value]
    return value


@dataclass
class RenderedResource:
    """One registered resource: what the engine would receive, plus the options policies look at."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    provider: str
    additional_secret_outputs: list[str]
    delete_before_replace: bool
    custom_timeouts: dict[str, str]
    #: ``import_``: the id of an existing object the engine imports instead of creating (adoption).
    import_id: str | None = None
    #: ``retain_on_delete``: destroy drops the resource from state and leaves the object (adopted, kept).
    retain_on_delete: bool = False

    @property
    def plain_inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped and ``__provider`` dropped (the analyzer's view)."""
        return {k: unwrap_secrets(v) for k, v in self.inputs.items() if k != PROVIDER_KEY}

    @property
    def redacted_inputs(self) -> dict[str, Any]:
        """Inputs with secrets redacted and ``__provider`` dropped (safe to print)."""
        return {k: redact_secrets(v) for k, v in self.inputs.items() if k != PROVIDER_KEY}


@dataclass
class RenderResult:
    """The rendered graph of one stack, or the error that stopped it (nothing registered then)."""

    stack: str
    resources: list[RenderedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None

    def of_type(self, type_token: str) -> list[RenderedResource]:
        """The resources with this type token, in registration order."""
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self) -> dict[str, RenderedResource]:
        """Resources keyed by URN."""
        return {r.urn: r for r in self.resources}
