"""The shipped deployment files agree with configs/deployment.yaml (image, namespace, service account, pools), and the
image installs the GPU lock (constraints/gpu.txt)."""

from __future__ import annotations

import re

import kubernetes
import pytest
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


def test_dockerfile_is_cuda_based_with_the_gpu_extra_and_ships_the_sandbox():
    text = (REPO / "deployments" / "Dockerfile").read_text()
    assert "nvidia/cuda:" in text and '".[gpu]"' in text
    assert "baseweight_assets.definitions" in text
    install = text[text.index("apt-get install"):text.index("rm -rf /var/lib/apt/lists")]
    assert "bubblewrap" in install.split()  # the scoring step refuses to run generated code without it
    user = load_deployment_config(REPO / "configs").kubernetes.sandbox_step.run_as_user
    assert f"--uid {user} bench" in text and "USER bench" in text


def _pip_installs(dockerfile: str) -> list[str]:
    """Every ``pip install`` command of the Dockerfile's RUN lines (continuations joined, split at ``&&``)."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    return [c.strip() for line in joined.splitlines() if line.startswith("RUN ")
            for c in line[4:].split("&&") if c.strip().startswith("pip install")]


def test_the_image_installs_exactly_the_gpu_lock():
    """The image runs what CI resolves: the gpu extra under constraints/gpu.txt, with no torch of its own."""
    text = (REPO / "deployments" / "Dockerfile").read_text()
    lock = dict(line.split("==") for line in (REPO / "constraints" / "gpu.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert {k: lock[k] for k in ("torch", "transformers", "trl", "vllm", "unsloth")} == {
        "torch": "2.14.0", "transformers": "5.17.0", "trl": "1.15.0", "vllm": "0.33.0", "unsloth": "2026.10.9"}
    installs = _pip_installs(text)
    assert installs == ['pip install ".[gpu]" -c constraints/gpu.txt']
    copied = text.index("COPY constraints/gpu.txt ./constraints/gpu.txt")
    assert copied < text.index("RUN pip install")  # the lock is in the image before the install reads it
    assert "torch==" not in text and "--index-url" not in text  # no second torch beside the lock's
    cuda_image = re.search(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-", text)
    assert cuda_image and lock["nvidia-cuda-runtime"].split(".")[:2] == list(cuda_image.groups())


def test_the_pip_install_reader_sees_continued_lines():
    text = 'RUN pip install "torch==2.13.0" --index-url x \\\n && pip install ".[gpu]" \\\n && pip check\n'
    assert _pip_installs(text) == ['pip install "torch==2.13.0" --index-url x', 'pip install ".[gpu]"']


_MODELS = {"ServiceAccount": "V1ServiceAccount", "PersistentVolumeClaim": "V1PersistentVolumeClaim",
           "Role": "V1Role", "RoleBinding": "V1RoleBinding", "NetworkPolicy": "V1NetworkPolicy",
           "RuntimeClass": "V1RuntimeClass"}


def _manifests() -> list[dict]:
    return [d for d in yaml.safe_load_all((REPO / "deployments" / "k8s-prereqs.yaml").read_text()) if d]


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("doc", _manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_prereq_manifests_are_valid_kubernetes_objects(doc):
    """Each document round-trips through the official client's model: a misspelt field would be dropped."""
    api = kubernetes.client.ApiClient()
    model = api._ApiClient__deserialize(doc, _MODELS[doc["kind"]])
    assert _without_nulls(api.sanitize_for_serialization(model)) == doc


def test_network_policy_denies_the_sandbox_pod_everything_but_dns_and_postgres():
    labels = load_deployment_config(REPO / "configs").kubernetes.sandbox_step.labels
    (policy,) = [d for d in _manifests() if d["kind"] == "NetworkPolicy"]
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == labels
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"] and spec["ingress"] == []
    ports = [(p["protocol"], p["port"]) for rule in spec["egress"] for p in rule["ports"]]
    assert sorted(ports) == [("TCP", 53), ("TCP", 5432), ("UDP", 53)]
    assert all(rule.get("to") for rule in spec["egress"])  # every rule names its peers: no open destination


def test_gvisor_runtime_class_is_offered():
    (runtime,) = [d for d in _manifests() if d["kind"] == "RuntimeClass"]
    assert runtime["handler"] == "runsc" and runtime["metadata"]["name"] == "gvisor"
