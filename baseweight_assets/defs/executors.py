"""Executors chosen by environment, and the Kubernetes tags GPU steps carry."""

from __future__ import annotations

import dagster as dg

# GPU steps ask Kubernetes for one GPU; CPU and API steps ask for none. The k8s executor reads these
# op tags; local executors ignore them.
GPU_OP_TAGS: dict = {
    "dagster-k8s/config": {
        "container_config": {
            "resources": {
                "requests": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"},
                "limits": {"nvidia.com/gpu": "1"},
            }
        },
        "pod_spec_config": {
            "node_selector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }
}


def executor_for(environment: str) -> dg.ExecutorDefinition:
    if environment == "production":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    # One process: on a 2-core machine per-step subprocesses cost ~3 s each and the local model server
    # already uses a core; backfills still run one partition per run.
    return dg.in_process_executor
