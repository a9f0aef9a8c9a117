"""The try-out project (``btp_infra.tryout``): the tenant's stack pointed at the sandbox, its credentials and
cluster settings dropped, the program rendering the Kubernetes objects to a directory (the
``renderYamlToDirectory`` provider, checked under mocks), and the listing that never shows a Secret value."""

from __future__ import annotations

from pathlib import Path

import yaml

from btp_infra import program, tryout
from btp_infra.config import engine_config, load_stack_file
from btp_infra.conventions import TYPE_KUBERNETES_PROVIDER
from btp_infra.offline import rendering

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "stacks" / "Pulumi.example.yaml"
GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"


def user_stack(tmp_path: Path) -> Path:
    path = tmp_path / "repo" / "stacks" / "Pulumi.orders.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "config:\n"
        "  btp-infra:namespace: orders\n"
        f"  btp-infra:subaccountId: {GUID}\n"
        "  btp-infra:region: eu10\n"
        "  btp-infra:kubeContext: prod-cluster\n"
        "  btp-infra:kubeconfig: ~/.kube/prod\n"
        "  btp-infra:keyringProfile: my-ga\n"
        "  btp-infra:cisServiceKey:\n"
        "    secure: v1:abc:def\n"
        "  btp-infra:mtls: true\n"
    )
    return path


def test_the_tryout_stack_drops_credentials_and_the_cluster(tmp_path: Path) -> None:
    out = tmp_path / "out" / "orders"
    config = tryout.tryout_stack_config(user_stack(tmp_path), out)
    assert "btp-infra:cisServiceKey" not in config and "btp-infra:keyringProfile" not in config
    assert "btp-infra:kubeconfig" not in config
    assert config["btp-infra:kubeContext"] == tryout.TRY_CONTEXT
    assert config["btp-infra:renderYamlToDirectory"] == str(out)
    assert config["btp-infra:mtls"] is True and config["btp-infra:namespace"] == "orders"


def test_the_tryout_project_runs_this_program_in_this_virtualenv(tmp_path: Path) -> None:
    stack = user_stack(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    project = tryout.prepare_project(
        stack, repo_dir=ROOT, work_dir=work, out_dir=tmp_path / "out" / "orders", python_prefix="/venv"
    )
    settings = yaml.safe_load((work / "Pulumi.yaml").read_text())
    assert settings["main"] == str(ROOT)  # absolute: the program directory (pkg/engine/project.go)
    assert settings["runtime"]["options"]["virtualenv"] == "/venv"
    assert settings["stackConfigDir"] == "stacks"
    assert (
        settings["requiredPulumiVersion"]
        == yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["requiredPulumiVersion"]
    )
    assert project.backend_url == (work / "state").resolve().as_uri()
    written = work / "stacks" / "Pulumi.orders.yaml"
    text = written.read_text()
    assert "secure" not in text and "my-ga" not in text and "prod" not in text
    loaded = load_stack_file(written)  # a valid stack for the real loader
    assert loaded.render_yaml_to_directory == str(project.out_dir)
    assert (project.stack, project.subaccount_id, project.region) == ("orders", GUID, "eu10")


def test_the_program_renders_kubernetes_objects_to_the_directory(tmp_path: Path) -> None:
    stack = user_stack(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    project = tryout.prepare_project(stack, repo_dir=ROOT, work_dir=work, out_dir=tmp_path / "out")
    result = rendering.render("orders", engine_config(work / "stacks" / "Pulumi.orders.yaml"), program.main)
    [provider] = result.of_type(TYPE_KUBERNETES_PROVIDER)
    assert provider.plain_inputs["renderYamlToDirectory"] == str(project.out_dir)
    assert provider.plain_inputs["context"] == tryout.TRY_CONTEXT
    assert not provider.plain_inputs.get("kubeconfig")  # nothing points at a real cluster
    k8s = [r for r in result.resources if r.type.startswith("kubernetes:")]
    assert k8s and all(r.provider.startswith(provider.urn) for r in k8s)


def test_without_the_setting_nothing_is_rendered_to_a_directory() -> None:
    result = rendering.render("example", engine_config(EXAMPLE), program.main)
    [provider] = result.of_type(TYPE_KUBERNETES_PROVIDER)
    assert (
        "renderYamlToDirectory" not in provider.plain_inputs
        or not provider.plain_inputs["renderYamlToDirectory"]
    )


def test_the_listing_shows_secret_keys_never_values(tmp_path: Path) -> None:
    manifest = tmp_path / "1-manifest"
    manifest.mkdir()
    (manifest / "v1-secret.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "Secret",
                "metadata": {"name": "sap-btp-service-operator", "namespace": "orders"},
                "data": {"tls.key": "c2VjcmV0"},
                "stringData": {"clientid": "sb-1"},
            }
        )
    )
    (manifest / "v1-namespace.yaml").write_text(
        yaml.safe_dump({"kind": "Namespace", "metadata": {"name": "o"}})
    )
    objects = tryout.rendered_objects(tmp_path)
    assert [(o.kind, o.name) for o in objects] == [("Namespace", "o"), ("Secret", "sap-btp-service-operator")]
    line = objects[1].line()
    assert "clientid, tls.key" in line and "c2VjcmV0" not in line and "sb-1" not in line
    assert tryout.rendered_objects(tmp_path / "missing") == []
