"""The text of a tenant stack file: the ``btp-infra:`` values a user asked for, each with a comment.

Owns: the order and the comments of the keys ``btp-infra tenant add`` writes, turning structured values into
YAML (:func:`render_stack_file`), and the rule that no secret is ever rendered: ``cisServiceKey`` is not a
key this module writes, and ``kubeconfig`` is a path only. Validation is the config model's job.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Final

import yaml

from btp_infra.config import CONFIG_KEYS, SECRET_KEYS
from btp_infra.conventions import config_key

__all__ = [
    "KEY_COMMENTS",
    "STACK_NAME_RE",
    "VALID_STACK_NAME",
    "WRITABLE_KEYS",
    "UnrenderableValue",
    "render_stack_file",
    "to_yaml_data",
]

STACK_NAME_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
"""A stack name ``tenant add`` accepts (a Pulumi stack name without ``org/project/``); use with fullmatch."""
VALID_STACK_NAME: Final = (
    "a stack name: letters, digits, '.', '_' and '-', at most 100 characters, not starting with '.' "
    "(e.g. orders-prod)"
)

#: The comment above each key, as in examples/stacks/Pulumi.example.yaml (short: every reader parses them).
KEY_COMMENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "namespace": ("The tenant's Kyma namespace: a DNS-1123 label, not a system one; unique per cluster.",),
    "subaccountId": ("The SAP BTP subaccount GUID (BTP cockpit); mapped by no other stack.",),
    "subaccount": (
        "The subaccount this stack creates and owns (instead of subaccountId): deleted on destroy when",
        "empty; subdomain or region changes replace it (refused unless allowSubaccountReplacement).",
    ),
    "subdomainPrefix": ("The organisation prefix of the default subdomain <prefix>-<namespace>.",),
    "region": ("The subaccount's region; checked against the subaccount when the stack runs.",),
    "credentialType": ("The service operator binding's credential: client-secret (default) or x509.",),
    "x509": ("The x509 certificate: validity in days (1-3650) and keyLength (2048, 3072 or 4096).",),
    "secretPlacement": (
        "Where the operator Secret goes: namespace (default; the tenant namespace) or management",
        "(Secret <namespace>-sap-btp-service-operator in managementNamespace).",
    ),
    "managementNamespace": (
        "The operator's management namespace (default kyma-system), for placement management.",
    ),
    "entitlements": (
        "Entitlements besides service-manager/service-operator-access; amount only for numeric quotas.",
    ),
    "labels": ("Extra namespace labels (string values); btp-infra's own labels cannot be overridden.",),
    "quota": ("ResourceQuota tenant-quota (spec.hard): resource -> Kubernetes quantity.",),
    "limitRange": (
        "LimitRange tenant-limits (Container): min <= defaultRequest <= default <= max per resource.",
    ),
    "networkPolicy": (
        "NetworkPolicies: none (default) or default-deny (plus the allows a Kyma tenant needs).",
    ),
    "mtls": ("Istio PeerAuthentication STRICT in the namespace (default false).",),
    "protect": ("Protect the whole tenant against deletion; set false and pulumi up before a destroy.",),
    "takeOwnership": (
        "Also delete BTP objects that existed before this stack on destroy (default false: kept).",
    ),
    "kubeContext": (
        "The kubeconfig context of the tenant's cluster (required; never the ambient current one).",
    ),
    "kubeconfig": (
        "The kubeconfig path (default $KUBECONFIG, ~/.kube/config); its content only as a secret:",
        "  pulumi config set --secret btp-infra:kubeconfig < kubeconfig.yaml",
    ),
    "clusterIdentifier": (
        "A stable cluster name (default kubeContext); changing it replaces every Kubernetes resource.",
    ),
    "keyringProfile": (
        "The keyring profile holding the cis service key: btp-infra login --profile <profile>.",
    ),
    "timeouts": ("Per-resource timeouts: seconds or 90s/30m/1h (defaults 20m, 10m, 30m, 10m).",),
    "adopt": (
        "Hand-made objects taken over, not created (btp-infra tenant adopt; docs/migration.md);",
        "kept on destroy unless takeOwnership.",
    ),
}

WRITABLE_KEYS: Final[tuple[str, ...]] = tuple(KEY_COMMENTS)
"""The ``btp-infra:`` keys ``tenant add`` writes, in the order it writes them (every key of the config model
but the secret ``cisServiceKey``, which is set with ``pulumi config set --secret`` only)."""

_UNSET_DEFAULTS: Final[Mapping[str, str]] = {
    "region": "none",
    "credentialType": "client-secret",
    "secretPlacement": "namespace",
    "networkPolicy": "none",
    "mtls": "false",
    "protect": "false",
    "takeOwnership": "false",
}
"""Options listed, with their default, in the closing comment of a file that does not set them."""


#: Config keys a tenant file never carries: the secret cis key (``pulumi config set --secret`` only), the
#: try-out's rendering switch (``btp-infra try`` sets it in its own throwaway copy), a rotation key
#: (``btp-infra rotate`` writes it) and the deliberate, one-change switch ``allowSubaccountReplacement``
#: (set by hand, in review, when a tenant is meant to move).
NOT_WRITTEN: Final = frozenset(
    {"cisServiceKey", "renderYamlToDirectory", "credentialRotation", "allowSubaccountReplacement"}
)


def _check_keys() -> None:
    """Fail at import if the written keys drift from the config model."""
    expected = set(CONFIG_KEYS) - NOT_WRITTEN
    if set(WRITABLE_KEYS) != expected or "cisServiceKey" not in SECRET_KEYS:
        raise RuntimeError(f"btp_infra.tenants.render keys {sorted(WRITABLE_KEYS)} != {sorted(expected)}")


_check_keys()


class UnrenderableValue(ValueError):
    """A value a stack file cannot hold (not a string, number, boolean, mapping or list)."""

    def __init__(self, key: str, kind: str) -> None:
        super().__init__(f"is a {kind}, which a stack file cannot hold")
        self.key = key
        self.kind = kind


def to_yaml_data(key: str, value: object) -> object:
    """``value`` as plain YAML data (dicts, lists, scalars); :class:`UnrenderableValue` otherwise."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {to_yaml_data(key, k): to_yaml_data(key, v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        return [to_yaml_data(key, v) for v in value]
    raise UnrenderableValue(key, type(value).__name__)


class _Dumper(yaml.SafeDumper):
    """Safe YAML with list items indented below their key, as in the example stack file."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _entry_lines(key: str, value: object) -> list[str]:
    """``btp-infra:<key>: <value>`` as YAML lines, indented under ``config:``."""
    text = yaml.dump(
        {config_key(key): value},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return ["  " + line for line in text.splitlines()]


def render_stack_file(stack: str, values: Mapping[str, object]) -> str:
    """The commented stack file for ``stack`` with ``values`` (bare camelCase keys, plain YAML data).

    Keys are written in :data:`WRITABLE_KEYS` order, each below its comment; keys not given are listed,
    commented out, at the end. ``stack`` must match :data:`STACK_NAME_RE` (it appears in a comment); no
    value is ever put into a comment. Raises :class:`ValueError` for a key that is not writable.
    """
    if not STACK_NAME_RE.fullmatch(stack):
        raise ValueError(f"{stack!r} is not {VALID_STACK_NAME}")
    unknown = [key for key in values if key not in KEY_COMMENTS]
    if unknown:
        raise ValueError(f"not keys tenant add writes: {', '.join(sorted(unknown))}")
    lines = [
        f"# Tenant stack {stack!r} (btp-infra tenant add): one Kyma namespace = one SAP BTP subaccount.",
        "# Check it with `btp-infra validate`; all options: examples/stacks/Pulumi.example.yaml.",
        "# No secrets in plain text: pulumi config set --secret btp-infra:cisServiceKey < cis-key.json",
        "config:",
    ]
    first = True
    for key in WRITABLE_KEYS:
        if key not in values:
            continue
        if not first and key not in ("subaccountId", "subaccount"):
            lines.append("")
        first = False
        lines.extend(f"  # {comment}" for comment in KEY_COMMENTS[key])
        lines.extend(_entry_lines(key, values[key]))
    unset = [f"{key} ({default})" for key, default in _UNSET_DEFAULTS.items() if key not in values]
    if unset:
        lines += [
            "",
            *textwrap.wrap(
                "Not set, so the default applies: " + ", ".join(unset) + ".",
                width=100,
                initial_indent="  # ",
                subsequent_indent="  # ",
            ),
        ]
    return "\n".join(lines) + "\n"
