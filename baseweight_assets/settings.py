"""The one place that reads the process environment.

Everything the environment decides (paths, profile, local vs production, which API keys exist, the Hub,
opt-ins) is read here once into a frozen ``Settings``; resources, the definitions factory and the command-line
entry points receive it. Assets and pure modules never read ``os.environ`` themselves.

Which secrets exist is decided here (the API keys and the Hub token); their values are held out of ``repr`` and are
never put into run config, logs or outputs: resources receive the variable names (or Dagster ``EnvVar``s) and the
value is read at the moment of the call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from baseweight_assets.paths import PROFILES, REPO_ROOT, ProjectPaths

ENVIRONMENTS = ("local", "production")
API_MODES = ("auto", "stand-in", "fake")

# Each variable is documented in README.md ("Configuration") and docs/SCALING.md.
PROFILE_ENV = "BASEWEIGHT_PROFILE"
ENVIRONMENT_ENV = "BASEWEIGHT_ENV"
DATA_DIR_ENV = "BASEWEIGHT_DATA_DIR"
HUB_MIRROR_ENV = "BASEWEIGHT_HUB_MIRROR"
HARDWARE_ENV = "BASEWEIGHT_HARDWARE"
API_MODE_ENV = "BASEWEIGHT_API"
UNSANDBOXED_ENV = "BASEWEIGHT_ALLOW_UNSANDBOXED_CODE"
RUN_ID_ENV = "BASEWEIGHT_MAIN_RUN_ID"
DAGSTER_URL_ENV = "BASEWEIGHT_DAGSTER_URL"
SECRET_SUFFIXES = ("_API_KEY", "_TOKEN")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """What the environment decides; see the module docstring."""

    repo_root: Path
    config_dir: Path
    prompts_dir: Path
    data_root: Path
    models_cache: Path
    profile: str = "smoke"
    environment: str = "local"
    use_hub: bool = False
    vllm_base_url: str | None = None
    # auto: the real API where its key is set, else the labelled local stand-in; stand-in: never call an API;
    # fake: a deterministic in-process endpoint (tests and the fixture graph).
    api_mode: str = "auto"
    hub_mirror: Path | None = None
    hardware_override: str | None = None
    allow_unsandboxed_code: bool = False
    main_run_id: str | None = None
    # a running Dagster deployment (its webserver) for baseweight-run to launch on, instead of starting its own
    dagster_url: str | None = None
    _secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"{PROFILE_ENV}={self.profile!r}: expected one of {PROFILES}")
        if self.environment not in ENVIRONMENTS:
            raise ValueError(f"{ENVIRONMENT_ENV}={self.environment!r}: expected one of {ENVIRONMENTS}")
        if self.api_mode not in API_MODES:
            raise ValueError(f"{API_MODE_ENV}={self.api_mode!r}: expected one of {API_MODES}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        repo = Path(env.get("BASEWEIGHT_REPO_ROOT", REPO_ROOT)).resolve()
        data_root = env.get(DATA_DIR_ENV) or REPO_ROOT.parent / "shared" / "data"
        return cls(
            repo_root=repo,
            config_dir=Path(env.get("BASEWEIGHT_CONFIG_DIR", repo / "configs")).resolve(),
            prompts_dir=Path(env.get("BASEWEIGHT_PROMPTS_DIR", repo / "prompts")).resolve(),
            data_root=Path(data_root).resolve(),
            models_cache=Path(env.get("BASEWEIGHT_MODELS_CACHE", ProjectPaths(repo).models_cache)).resolve(),
            profile=env.get(PROFILE_ENV, "smoke"),
            environment=env.get(ENVIRONMENT_ENV, "local"),
            # The Hub is used only when asked for and not forced offline.
            use_hub=env.get("BASEWEIGHT_USE_HUB") == "1" and env.get("HF_HUB_OFFLINE") != "1",
            vllm_base_url=env.get("BASEWEIGHT_VLLM_URL") or None,
            api_mode=env.get(API_MODE_ENV, "auto"),
            hub_mirror=Path(env[HUB_MIRROR_ENV]).resolve() if env.get(HUB_MIRROR_ENV) else None,
            hardware_override=env.get(HARDWARE_ENV) or None,
            allow_unsandboxed_code=_flag(env.get(UNSANDBOXED_ENV)),
            main_run_id=env.get(RUN_ID_ENV) or None,
            dagster_url=(env.get(DAGSTER_URL_ENV) or "").rstrip("/") or None,
            _secrets={k: v for k, v in env.items() if k.endswith(SECRET_SUFFIXES) and v},
        )

    @property
    def paths(self) -> ProjectPaths:
        return ProjectPaths(self.repo_root, self.profile)

    def secret_names(self) -> list[str]:
        """The key/token variables that are set (names only)."""
        return sorted(self._secrets)

    def has_secret(self, name: str) -> bool:
        return bool(self._secrets.get(name))

    def secret(self, name: str) -> str | None:
        """The value of a key/token variable captured at start-up (never logged; see the module docstring)."""
        return self._secrets.get(name) or None

    def api_is_live(self, api_key_env: str) -> bool:
        """Whether an API model whose key lives in ``api_key_env`` calls the real API (else the stand-in answers)."""
        return self.api_mode == "auto" and self.has_secret(api_key_env)
