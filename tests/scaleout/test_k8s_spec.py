"""The Kubernetes Job a step pod would get, built with dagster-k8s's own functions (no cluster)."""

from __future__ import annotations

import json

import pytest
from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_user_defined_k8s_config

from baseweight_assets.config.deployment import load_deployment_config
from baseweight_assets.config.errors import ConfigError
from baseweight_assets.defs import executors
from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.settings import Settings

from .helpers import REPO, write_deployment


@pytest.fixture(scope="module")
def defs():
    return build_definitions(Settings.from_env({"BASEWEIGHT_PROFILE": "smoke"}))


def _op_tags(defs, asset_name: str) -> dict[str, str]:
    asset = defs.resolve_assets_def(asset_name)
    # Step tags reach the step handler as strings; dagster JSON-encodes dict-valued op tags.
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in asset.op.tags.items()}


def _job_for(defs, asset_name: str, deployment):
    """What K8sStepHandler does: executor step config, then the step's op tags, merged deep."""
    executor_cfg = executors.k8s_executor_config(deployment)
    context = K8sContainerContext(
        namespace=executor_cfg["job_namespace"],
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(executor_cfg["step_k8s_config"]),
    ).merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(_op_tags(defs, asset_name))))
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image=executor_cfg["job_image"], image_pull_policy=executor_cfg["image_pull_policy"]),
        ["dagster", "api", "execute_step"],
        f"dagster-step-{asset_name.replace('_', '-')}",
        user_defined_k8s_config=context.run_k8s_config,
    )
    return job.to_dict()


def test_gpu_assets_request_gpus_on_gpu_nodes(defs):
    deployment = load_deployment_config(REPO / "configs")
    gpu = deployment.kubernetes.gpu_step
    for name in ("lora_adapter", "local_predictions"):
        job = _job_for(defs, name, deployment)
        pod = job["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["image"] == deployment.kubernetes.image
        assert container["resources"]["limits"][gpu.resource_name] == str(gpu.gpus)
        assert container["resources"]["requests"][gpu.resource_name] == str(gpu.gpus)
        assert container["resources"]["requests"]["memory"] == gpu.requests["memory"]
        assert pod["node_selector"] == gpu.node_selector
        assert [(t["key"], t["operator"], t["effect"]) for t in pod["tolerations"]] == [
            (t.key, t.operator, t.effect) for t in gpu.tolerations
        ]
        assert {"name": "dshm", "mount_path": "/dev/shm"}.items() <= container["volume_mounts"][0].items()
        assert job["spec"]["backoff_limit"] == 0


def test_cpu_and_api_assets_request_no_gpu(defs):
    deployment = load_deployment_config(REPO / "configs")
    for name in ("raw_dataset", "prepared_splits", "api_predictions", "local_scores", "api_scores", "dashboard_data"):
        job = _job_for(defs, name, deployment)
        pod = job["spec"]["template"]["spec"]
        resources = pod["containers"][0]["resources"]
        assert not any("gpu" in key for part in resources.values() for key in (part or {})), (name, resources)
        # Scoring steps run generated code in their own pod (deploy.k8s_pods, test_k8s_sandbox_pod.py).
        sandboxed = "dagster-k8s/config" in _op_tags(defs, name)
        step = deployment.kubernetes.sandbox_step if sandboxed else deployment.kubernetes.cpu_step
        assert resources["requests"] == step.requests, name
        assert not pod.get("node_selector") and not pod.get("tolerations"), name


def test_pools_are_declared_on_the_assets(defs):
    pools = {name: defs.resolve_assets_def(name).op.pool for name in
             ("lora_adapter", "local_predictions", "api_predictions", "raw_dataset")}
    assert pools == {"lora_adapter": "gpu", "local_predictions": "gpu", "api_predictions": "api", "raw_dataset": None}


def test_gpu_tags_follow_the_config(tmp_path):
    write_deployment(tmp_path, gpus=2, node_selector={"pool": "a100"}, resource_name="amd.com/gpu")
    tags = executors.gpu_op_tags(load_deployment_config(tmp_path))
    resources = tags["dagster-k8s/config"]["container_config"]["resources"]
    assert resources["limits"]["amd.com/gpu"] == "2"
    assert tags["dagster-k8s/config"]["pod_spec_config"]["node_selector"] == {"pool": "a100"}


def test_gpu_assets_carry_the_tags_of_the_definitions_own_config(tmp_path):
    """build_definitions(settings) takes the GPU pod spec from settings' configs, not from the environment's."""
    import shutil

    configs = tmp_path / "configs"
    shutil.copytree(REPO / "configs", configs)
    write_deployment(configs, gpus=2, node_selector={"pool": "a100"})
    defs = build_definitions(Settings.from_env({"BASEWEIGHT_PROFILE": "smoke", "BASEWEIGHT_CONFIG_DIR": str(configs)}))
    for name in ("lora_adapter", "local_predictions"):
        spec = json.loads(_op_tags(defs, name)["dagster-k8s/config"])
        assert spec["pod_spec_config"]["node_selector"] == {"pool": "a100"}, name
        assert spec["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "2", name


def test_executor_by_environment(tmp_path):
    write_deployment(tmp_path)
    deployment = load_deployment_config(tmp_path)
    assert executors.executor_for("local", deployment).name == "in_process"
    prod = executors.executor_for("production", deployment)
    assert prod.name == "k8s"
    config = executors.k8s_executor_config(deployment)
    assert config["job_namespace"] == "bench-test" and "HF_TOKEN" not in json.dumps(config)


def test_bad_deployment_config_names_file_and_field(tmp_path):
    write_deployment(tmp_path, gpus=0)
    with pytest.raises(ConfigError, match=r"deployment\.yaml: field 'kubernetes\.gpu_step\.gpus'"):
        load_deployment_config(tmp_path)
    with pytest.raises(ConfigError, match="file not found"):
        load_deployment_config(tmp_path / "nowhere")
