"""``configs/deployment.yaml``: Kubernetes step pods, concurrency pools and Hub sync (pure, no dagster)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from baseweight_assets.config.errors import ConfigError
from baseweight_assets.config.loader import load_model_file
from baseweight_assets.config.schema import _Strict

DEPLOYMENT_FILE = "deployment.yaml"
_REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Toleration(_Strict):
    key: str
    operator: str = "Exists"
    value: str | None = None
    effect: str | None = None


class CpuStep(_Strict):
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)


class GpuStep(CpuStep):
    gpus: int = Field(1, ge=1)
    resource_name: str = "nvidia.com/gpu"
    shm_size: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)


SecurityProfile = Literal["Unconfined", "RuntimeDefault", "Localhost"]


class SandboxStep(CpuStep):
    """The pod of steps that run generated code (scoring): see docs/SECURITY.md ("Kubernetes").

    bubblewrap needs unprivileged user namespaces in the pod: a seccomp and an AppArmor profile that allow
    ``unshare``/``mount`` (``Unconfined`` or a ``Localhost`` profile) and an unmasked ``/proc`` (which
    Kubernetes grants only with ``host_users: false``, a user-namespaced pod). Where the nodes cannot offer
    that, set ``runtime_class`` to a gVisor RuntimeClass (deployments/k8s-prereqs.yaml) instead.
    """

    labels: dict[str, str] = Field(default_factory=lambda: {"baseweight.ai/sandbox": "true"})
    run_as_user: int = Field(10001, ge=1)  # the image's unprivileged user (deployments/Dockerfile)
    seccomp_profile: SecurityProfile = "Unconfined"
    seccomp_localhost_profile: str | None = None
    apparmor_profile: SecurityProfile = "Unconfined"
    apparmor_localhost_profile: str | None = None
    unmasked_proc: bool = True
    host_users: bool = False
    runtime_class: str | None = None

    @model_validator(mode="after")
    def _localhost_profiles_named(self) -> SandboxStep:
        for kind in ("seccomp", "apparmor"):
            if getattr(self, f"{kind}_profile") == "Localhost" and not getattr(self, f"{kind}_localhost_profile"):
                raise ValueError(f"{kind}_profile Localhost needs {kind}_localhost_profile")
        if self.unmasked_proc and self.host_users:
            raise ValueError("unmasked_proc needs host_users: false (Kubernetes allows an unmasked /proc only "
                             "in a user-namespaced pod)")
        if not self.labels:
            raise ValueError("labels must not be empty: the sandbox NetworkPolicy selects pods by them")
        return self


class KubernetesConfig(_Strict):
    namespace: str
    image: str
    image_pull_policy: str = "IfNotPresent"
    service_account: str | None = None
    env_secrets: list[str] = Field(default_factory=list)
    env_config_maps: list[str] = Field(default_factory=list)
    artifacts_pvc: str | None = None
    artifacts_mount: str = "/artifacts"
    max_concurrent_steps: int = Field(16, ge=1)
    job_ttl_seconds: int = Field(86400, ge=0)
    cpu_step: CpuStep = Field(default_factory=CpuStep)
    gpu_step: GpuStep = Field(default_factory=GpuStep)
    sandbox_step: SandboxStep = Field(default_factory=SandboxStep)


class HubConfig(_Strict):
    enabled: bool = False
    token_env: str = "HF_TOKEN"
    org: str
    dataset_repo: str
    adapter_repo_prefix: str
    private: bool = True
    revision: str = "main"

    @field_validator("org", "dataset_repo", "adapter_repo_prefix")
    @classmethod
    def _repo_name(cls, value: str) -> str:
        if not _REPO_NAME.match(value) or len(value) > 96:
            raise ValueError("expected letters, digits, '.', '_' or '-' (at most 96 characters)")
        return value

    @property
    def dataset_repo_id(self) -> str:
        return f"{self.org}/{self.dataset_repo}"


class DeploymentConfig(_Strict):
    kubernetes: KubernetesConfig
    pools: dict[str, int] = Field(default_factory=lambda: {"gpu": 1, "api": 1})
    hub: HubConfig

    @field_validator("pools")
    @classmethod
    def _positive(cls, pools: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in pools.items() if v < 1}
        if bad:
            raise ValueError(f"pool limits must be >= 1, got {bad}")
        return pools


def load_deployment_config(config_dir: Path) -> DeploymentConfig:
    """Read ``<config_dir>/deployment.yaml``; errors name the file and field."""
    path = Path(config_dir) / DEPLOYMENT_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: file not found (copy configs/deployment.yaml from the repository)")
    return load_model_file(path, DeploymentConfig)
