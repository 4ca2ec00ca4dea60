"""Executors chosen by environment, and the Kubernetes config GPU steps carry, all built from
``configs/deployment.yaml`` (schema: ``baseweight_assets/config/deployment.py``).

Locally one process runs every step (per-step subprocesses cost ~3 s each on a small machine);
in production ``dagster_k8s.k8s_job_executor`` starts one pod per step. Pools (``gpu``, ``api``)
bound simultaneous steps in both: the instance enforces them, not the executor.
"""

from __future__ import annotations


import dagster as dg

from baseweight_assets.config.deployment import DeploymentConfig, KubernetesConfig
from baseweight_assets.deploy.k8s_pods import PART_OF_LABELS, sandbox_step_k8s_config

K8S_CONFIG_TAG = "dagster-k8s/config"
_SHM_VOLUME = "dshm"


def gpu_step_k8s_config(k8s: KubernetesConfig) -> dict:
    """User-defined k8s config (dagster-k8s schema) for a step that needs GPUs."""
    gpu = k8s.gpu_step
    count = str(gpu.gpus)
    container: dict = {
        "resources": {
            "requests": {**gpu.requests, gpu.resource_name: count},
            "limits": {**gpu.limits, gpu.resource_name: count},
        }
    }
    pod: dict = {
        "node_selector": dict(gpu.node_selector),
        "tolerations": [t.model_dump(exclude_none=True) for t in gpu.tolerations],
    }
    if gpu.shm_size:
        container["volume_mounts"] = [{"name": _SHM_VOLUME, "mount_path": "/dev/shm"}]
        pod["volumes"] = [{"name": _SHM_VOLUME, "empty_dir": {"medium": "Memory", "size_limit": gpu.shm_size}}]
    return {"container_config": container, "pod_spec_config": pod}


def gpu_op_tags(deployment: DeploymentConfig) -> dict:
    """Op tags for GPU assets; local executors ignore them, the k8s executor merges them over its defaults."""
    return {K8S_CONFIG_TAG: gpu_step_k8s_config(deployment.kubernetes)}


def sandbox_op_tags(deployment: DeploymentConfig) -> dict:
    """Op tags for assets that run generated code (scoring): their pod has no secrets, no service-account token,
    no egress and a security context bubblewrap can work in (``deploy.k8s_pods``)."""
    return {K8S_CONFIG_TAG: sandbox_step_k8s_config(deployment.kubernetes)}


def k8s_executor_config(deployment: DeploymentConfig) -> dict:
    """Config for ``k8s_job_executor``: image, namespace, secrets, the artifacts volume and CPU-step defaults."""
    k8s = deployment.kubernetes
    step: dict = {
        "container_config": {
            "resources": {"requests": dict(k8s.cpu_step.requests), "limits": dict(k8s.cpu_step.limits)},
        },
        "job_spec_config": {"backoff_limit": 0, "ttl_seconds_after_finished": k8s.job_ttl_seconds},
    }
    config: dict = {
        "job_namespace": k8s.namespace,
        "job_image": k8s.image,
        "image_pull_policy": k8s.image_pull_policy,
        "env_secrets": list(k8s.env_secrets),
        "env_config_maps": list(k8s.env_config_maps),
        "env_vars": ["BASEWEIGHT_ENV=production", f"BASEWEIGHT_REPO_ROOT={k8s.artifacts_mount}"],
        "max_concurrent": k8s.max_concurrent_steps,
        "step_k8s_config": step,
        "labels": dict(PART_OF_LABELS),
    }
    if k8s.service_account:
        config["service_account_name"] = k8s.service_account
    if k8s.artifacts_pvc:
        config["volumes"] = [{"name": "artifacts", "persistent_volume_claim": {"claim_name": k8s.artifacts_pvc}}]
        config["volume_mounts"] = [{"name": "artifacts", "mount_path": k8s.artifacts_mount}]
    return config


def executor_for(environment: str, deployment: DeploymentConfig) -> dg.ExecutorDefinition:
    if environment == "production":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(k8s_executor_config(deployment), name="k8s")
    # Backfills still run one partition per run, so one process per run loses no parallelism.
    return dg.in_process_executor


def ensure_pool_limits(instance: dg.DagsterInstance, deployment: DeploymentConfig) -> dict[str, int]:
    """Write the configured pool limits into the instance (``dagster instance concurrency set`` does the same)."""
    for pool, limit in deployment.pools.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)
    return dict(deployment.pools)
