"""The one place that reads the process environment to decide how the graph is built."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from baseweight_assets.paths import PROFILE_ENV, PROFILES, REPO_ROOT, ProjectPaths, default_data_root

ENVIRONMENT_ENV = "BASEWEIGHT_ENV"  # local | production
ENVIRONMENTS = ("local", "production")


@dataclass(frozen=True)
class Settings:
    """Everything the environment decides; assets never read os.environ themselves."""

    repo_root: Path
    config_dir: Path
    prompts_dir: Path
    data_root: Path
    models_cache: Path
    profile: str = "smoke"
    environment: str = "local"
    use_hub: bool = False
    vllm_base_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        repo = Path(env.get("BASEWEIGHT_REPO_ROOT", REPO_ROOT)).resolve()
        profile = env.get(PROFILE_ENV, "smoke")
        if profile not in PROFILES:
            raise ValueError(f"{PROFILE_ENV}={profile!r}: expected one of {PROFILES}")
        environment = env.get(ENVIRONMENT_ENV, "local")
        if environment not in ENVIRONMENTS:
            raise ValueError(f"{ENVIRONMENT_ENV}={environment!r}: expected one of {ENVIRONMENTS}")
        return cls(
            repo_root=repo,
            config_dir=Path(env.get("BASEWEIGHT_CONFIG_DIR", repo / "configs")).resolve(),
            prompts_dir=Path(env.get("BASEWEIGHT_PROMPTS_DIR", repo / "prompts")).resolve(),
            data_root=Path(env.get("BASEWEIGHT_DATA_DIR") or default_data_root()).resolve(),
            models_cache=Path(env.get("BASEWEIGHT_MODELS_CACHE", ProjectPaths(repo).models_cache)).resolve(),
            profile=profile,
            environment=environment,
            # The Hub is used only when asked for and not forced offline.
            use_hub=env.get("BASEWEIGHT_USE_HUB") == "1" and env.get("HF_HUB_OFFLINE") != "1",
            vllm_base_url=env.get("BASEWEIGHT_VLLM_URL") or None,
        )
