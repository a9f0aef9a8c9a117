"""The stack's Kubernetes target: named explicitly, never the ambient one, and never a plain-text kubeconfig.

What pulumi-kubernetes does that these rules follow (read in its source):

- an explicit provider is configured only from its own inputs; ``kubernetes:*`` stack config configures the
  *default* provider, which btp-infra never uses, so ``kubernetes:context`` / ``kubernetes:kubeconfig`` /
  ``kubernetes:cluster`` would silently be ignored (``provider.go``, ``Configure``: ``vars[...]``);
- without a context, the kubeconfig's ``current-context`` (or the ambient ``$KUBECONFIG`` /
  ``~/.kube/config``) decides the cluster (``provider.go``, ``Configure``:
  ``ConfigOverrides.CurrentContext``);
- ``kubeconfig`` is a path *or* the content (``util.go``, ``parseKubeconfigString``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from btp_infra import program
from btp_infra.config import ConfigError, engine_values, from_pulumi_config, load_stack_file
from btp_infra.offline import rendering

GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"
HEAD = f"config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: {GUID}\n"
CONTEXT = "  btp-infra:kubeContext: kyma-prod\n"
KUBECONFIG_CONTENT = (
    "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n"
    "    server: https://api.example.test\nusers:\n- name: u\n  user:\n    token: kube-token-must-not-show\n"
    "contexts:\n- name: c\n  context: {cluster: c, user: u}\n"
)


def stack(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    return str(info.value).splitlines()


# ---- the ambient context --------------------------------------------------------------------------------


def test_a_stack_without_kube_context_is_refused_in_one_line(tmp_path: Path) -> None:
    lines = errors_of(stack(tmp_path, HEAD))
    assert len(lines) == 1, lines
    assert "btp-infra:kubeContext" in lines[0]
    assert "ambient" in lines[0] or "current context" in lines[0]


def test_the_program_refuses_a_stack_without_kube_context() -> None:
    result = rendering.render(
        "t", engine_values({"btp-infra:namespace": "incident", "btp-infra:subaccountId": GUID}), program.main
    )
    assert isinstance(result.error, ConfigError), result.error
    assert "btp-infra:kubeContext" in str(result.error)
    assert result.resources == []


def test_a_named_context_is_enough(tmp_path: Path) -> None:
    assert load_stack_file(stack(tmp_path, HEAD + CONTEXT)).kube_context == "kyma-prod"


# ---- kubernetes:* keys the explicit provider never reads ------------------------------------------------


@pytest.mark.parametrize(
    ("key", "instead"),
    [
        ("kubernetes:context", "btp-infra:kubeContext"),
        ("kubernetes:kubeconfig", "btp-infra:kubeconfig"),
        ("kubernetes:cluster", "btp-infra:kubeContext"),
    ],
)
def test_kubernetes_target_keys_are_refused_not_ignored(tmp_path: Path, key: str, instead: str) -> None:
    lines = errors_of(stack(tmp_path, HEAD + CONTEXT + f"  {key}: other\n"))
    assert len(lines) == 1, lines
    assert key in lines[0] and instead in lines[0]
    with pytest.raises(ConfigError) as info:
        from_pulumi_config(
            {
                "btp-infra:namespace": "incident",
                "btp-infra:subaccountId": GUID,
                "btp-infra:kubeContext": "kyma-prod",
                key: "other",
            },
            source="stacks/Pulumi.t.yaml",
        )
    assert key in str(info.value) and instead in str(info.value)


def test_other_kubernetes_keys_still_pass_through(tmp_path: Path) -> None:
    path = stack(tmp_path, HEAD + CONTEXT + "  kubernetes:enableServerSideApply: 'true'\n")
    assert load_stack_file(path).namespace == "incident"


def test_the_program_sees_kubernetes_context_set_by_habit() -> None:
    values = {
        "btp-infra:namespace": "incident",
        "btp-infra:subaccountId": GUID,
        "btp-infra:kubeContext": "kyma-prod",
        "kubernetes:context": "other",
    }
    result = rendering.render("t", engine_values(values), program.main)
    assert isinstance(result.error, ConfigError), result.error
    assert "kubernetes:context" in str(result.error)


# ---- a plain-text kubeconfig ------------------------------------------------------------------------------


def test_a_plain_text_kubeconfig_content_is_refused_like_a_plain_cis_key(tmp_path: Path) -> None:
    text = (
        HEAD
        + CONTEXT
        + "  btp-infra:kubeconfig: |\n"
        + "".join(f"    {line}\n" for line in KUBECONFIG_CONTENT.splitlines())
    )
    lines = errors_of(stack(tmp_path, text))
    assert len(lines) == 1, lines
    assert "btp-infra:kubeconfig" in lines[0] and "plain text" in lines[0]
    assert "--secret" in lines[0]
    assert "kube-token-must-not-show" not in lines[0] and "api.example.test" not in lines[0]


def test_a_one_line_json_kubeconfig_is_content_too(tmp_path: Path) -> None:
    text = HEAD + CONTEXT + """  btp-infra:kubeconfig: '{"apiVersion": "v1", "users": []}'\n"""
    lines = errors_of(stack(tmp_path, text))
    assert len(lines) == 1 and "plain text" in lines[0], lines


def test_a_plain_text_kubeconfig_mapping_is_refused(tmp_path: Path) -> None:
    text = (
        HEAD
        + CONTEXT
        + "  btp-infra:kubeconfig:\n    apiVersion: v1\n    users: [{name: u, user: {token: t0k}}]\n"
    )
    lines = errors_of(stack(tmp_path, text))
    assert len(lines) == 1, lines
    assert "btp-infra:kubeconfig" in lines[0] and "t0k" not in lines[0]


@pytest.mark.parametrize("path", ["~/.kube/kyma.yaml", "/home/ci/.kube/config", "kubeconfig.yaml"])
def test_a_kubeconfig_path_may_be_plain_text(tmp_path: Path, path: str) -> None:
    config = load_stack_file(stack(tmp_path, HEAD + CONTEXT + f"  btp-infra:kubeconfig: {path}\n"))
    assert config.kubeconfig_value == path


def test_an_encrypted_kubeconfig_is_fine(tmp_path: Path) -> None:
    text = HEAD + CONTEXT + "  btp-infra:kubeconfig:\n    secure: AAABAJ0fakeciphertext\n"
    assert load_stack_file(stack(tmp_path, text)).kubeconfig is not None


def test_a_refused_kubernetes_kubeconfig_is_never_shown() -> None:
    with pytest.raises(ConfigError) as info:
        from_pulumi_config(
            {
                "btp-infra:namespace": "incident",
                "btp-infra:subaccountId": GUID,
                "btp-infra:kubeContext": "kyma-prod",
                "kubernetes:kubeconfig": KUBECONFIG_CONTENT,
            },
            source="stacks/Pulumi.t.yaml",
        )
    assert "kube-token-must-not-show" not in str(info.value) and "[secret]" in str(info.value)
