"""The shipped deployment files agree with configs/deployment.yaml (image, namespace, service account, pools)."""

from __future__ import annotations

import yaml

from baseweight_assets.config.deployment import load_deployment_config

from .helpers import REPO


def test_helm_values_match_the_deployment_config():
    deployment = load_deployment_config(REPO / "configs").kubernetes
    values = yaml.safe_load((REPO / "deployments" / "helm" / "values.yaml").read_text())
    user = values["dagster-user-deployments"]["deployments"][0]
    assert f"{user['image']['repository']}:{user['image']['tag']}" == deployment.image
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert launcher["jobNamespace"] == deployment.namespace
    assert values["global"]["serviceAccountName"] == deployment.service_account
    assert [s["name"] for s in launcher["envSecrets"]] == deployment.env_secrets
    assert launcher["volumes"][0]["persistentVolumeClaim"]["claimName"] == deployment.artifacts_pvc
    assert values["concurrency"]["pools"]["granularity"] == "op"
    assert "HF_TOKEN=" not in (REPO / "deployments" / "helm" / "values.yaml").read_text()


def test_dockerfile_is_cuda_based_with_the_gpu_extra():
    text = (REPO / "deployments" / "Dockerfile").read_text()
    assert "nvidia/cuda:" in text and '".[gpu]"' in text and "torch==${TORCH_VERSION}" in text
    assert "baseweight_assets.definitions" in text
