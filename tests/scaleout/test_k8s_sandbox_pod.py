"""The pod a scoring step (it runs generated code) gets, rendered the way dagster-k8s's K8sStepHandler renders it:
the run launcher's settings (deployments/helm/values.yaml), then the k8s_job_executor's, then the step's op tags,
then ``construct_dagster_k8s_job``. No cluster needed."""

from __future__ import annotations

import json

import pytest
import yaml
from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_user_defined_k8s_config

from baseweight_assets.config.deployment import load_deployment_config
from baseweight_assets.config.errors import ConfigError
from baseweight_assets.defs import executors

from .helpers import REPO, write_deployment


def _render(deployment, op_tags: dict) -> dict:
    values = yaml.safe_load((REPO / "deployments" / "helm" / "values.yaml").read_text())
    launcher_cfg = values["runLauncher"]["config"]["k8sRunLauncher"]
    launcher = K8sContainerContext(env_secrets=[s["name"] for s in launcher_cfg["envSecrets"]],
                                   env_vars=launcher_cfg["envVars"])
    cfg = executors.k8s_executor_config(deployment)
    executor = K8sContainerContext(
        image_pull_policy=cfg["image_pull_policy"], service_account_name=cfg.get("service_account_name"),
        env_config_maps=cfg["env_config_maps"], env_secrets=cfg["env_secrets"], env_vars=cfg["env_vars"],
        volume_mounts=cfg.get("volume_mounts"), volumes=cfg.get("volumes"), labels=cfg["labels"],
        namespace=cfg["job_namespace"], run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(cfg["step_k8s_config"]),
    )
    # Step tags reach the step handler as strings; dagster JSON-encodes dict-valued op tags.
    tags = {k: v if isinstance(v, str) else json.dumps(v) for k, v in op_tags.items()}
    context = launcher.merge(executor).merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(tags)))
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image=cfg["job_image"], image_pull_policy=cfg["image_pull_policy"],
                            instance_config_map="dagster-instance", postgres_password_secret="dagster-postgresql"),
        ["dagster", "api", "execute_step"], "dagster-step-scores", user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/op": "local_scores"},
    )
    return job.to_dict()


def _secret_refs(container: dict) -> tuple[list[str], list[str]]:
    """(secrets loaded whole through env_from, env var names read from a secret)."""
    whole = [e["secret_ref"]["name"] for e in container.get("env_from") or [] if e.get("secret_ref")]
    keyed = [e["name"] for e in container.get("env") or []
             if (e.get("value_from") or {}).get("secret_key_ref")]
    return whole, keyed


@pytest.fixture(scope="module")
def deployment():
    return load_deployment_config(REPO / "configs")


def test_an_ordinary_step_gets_the_secrets_so_the_check_below_can_see_them(deployment):
    pod = _render(deployment, {})["spec"]["template"]["spec"]
    whole, _ = _secret_refs(pod["containers"][0])
    assert "baseweight-secrets" in whole and pod.get("automount_service_account_token") is not False


def test_the_scoring_pod_has_no_secret_no_token_and_the_network_policy_label(deployment):
    job = _render(deployment, executors.sandbox_op_tags(deployment))
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    whole, keyed = _secret_refs(container)
    assert whole == []  # neither the executor's env_secrets nor the run launcher's envSecrets
    assert keyed == ["DAGSTER_PG_PASSWORD"]  # only the instance database's, to record the step's events
    env = {e["name"] for e in container["env"]}
    assert not {"HF_TOKEN", "OPENAI_API_KEY"} & env and {"BASEWEIGHT_ENV", "BASEWEIGHT_PROFILE"} <= env
    assert pod["automount_service_account_token"] is False
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert deployment.kubernetes.sandbox_step.labels.items() <= labels.items()
    assert labels["app.kubernetes.io/part-of"] == "baseweight-bench" and labels["dagster/op"] == "local_scores"
    # What the step still needs: the artifacts volume, the image, its own requests.
    assert any(m["mount_path"] == "/artifacts" for m in container["volume_mounts"])
    assert container["image"] == deployment.kubernetes.image
    assert container["resources"]["requests"] == deployment.kubernetes.sandbox_step.requests


def test_the_scoring_pod_lets_bubblewrap_unshare_namespaces_and_nothing_more(deployment):
    pod = _render(deployment, executors.sandbox_op_tags(deployment))["spec"]["template"]["spec"]
    ctx = pod["containers"][0]["security_context"]
    assert ctx["run_as_non_root"] is True and ctx["run_as_user"] == 10001
    assert ctx["allow_privilege_escalation"] is False and ctx["capabilities"]["drop"] == ["ALL"]
    assert not ctx.get("privileged")
    assert ctx["seccomp_profile"]["type"] == "Unconfined" and ctx["app_armor_profile"]["type"] == "Unconfined"
    assert ctx["proc_mount"] == "Unmasked" and pod["host_users"] is False
    assert not pod.get("runtime_class_name")


def test_gvisor_and_localhost_profiles_follow_the_config(tmp_path):
    path = write_deployment(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["kubernetes"]["sandbox_step"].update(
        runtime_class="gvisor", unmasked_proc=False, host_users=True, seccomp_profile="Localhost",
        seccomp_localhost_profile="profiles/bwrap.json")
    data["kubernetes"]["env_config_maps"] = ["baseweight-settings"]
    path.write_text(yaml.safe_dump(data))
    deployment = load_deployment_config(tmp_path)
    pod = _render(deployment, executors.sandbox_op_tags(deployment))["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["runtime_class_name"] == "gvisor" and not pod.get("host_users")
    assert container["security_context"]["seccomp_profile"] == {"type": "Localhost",
                                                                "localhost_profile": "profiles/bwrap.json"}
    assert container["security_context"]["proc_mount"] == "Default"
    assert [e["config_map_ref"]["name"] for e in container["env_from"]] == ["baseweight-settings"]


@pytest.mark.parametrize("change, message", [
    ({"seccomp_profile": "Localhost"}, "seccomp_localhost_profile"),
    ({"unmasked_proc": True, "host_users": True}, "user-namespaced pod"),
    ({"labels": {}}, "NetworkPolicy"),
    ({"seccomp_profile": "Off"}, "sandbox_step.seccomp_profile"),
])
def test_bad_sandbox_step_config_names_the_field(tmp_path, change, message):
    path = write_deployment(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["kubernetes"]["sandbox_step"].update(change)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_deployment_config(tmp_path)
