"""Load and cross-check every config file; errors name the file, the field and what was expected."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from baseweight_assets.conditions import LoraSize, expand
from baseweight_assets.config.errors import ConfigError
from baseweight_assets.config.schema import (
    ModelConfig,
    PricingConfig,
    ProfileConfig,
    RunDefaults,
    TaskConfig,
    TrainingConfig,
)

M = TypeVar("M", bound=BaseModel)


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_model_file(path: Path, model: type[M]) -> M:
    """Parse one YAML file into ``model``; every validation error names the file and field."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "<root>"
            got = err.get("input")
            got_text = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{path}: field '{field}': {err['msg']}{got_text}")
        raise ConfigError("\n".join(lines)) from None


def _field_errors(path: Path, prefix: str, exc: ValidationError) -> list[str]:
    return [f"{path}: field '{'.'.join([prefix, *(str(p) for p in err['loc'])])}': {err['msg']}" for err in exc.errors()]


def load_task_file(path: Path) -> TaskConfig:
    """One task YAML, checked beyond its schema: ``task_type`` names a registered kind whose settings the task fits
    (``TaskKind.config_errors``), ``source.offline.loader`` names a registered loader and ``options`` fit that
    loader's options model. Every error names the file and the field."""
    from baseweight_assets.data.sources import LOADERS  # the loaders and kinds import the schema, not the loader
    from baseweight_assets.tasks import KINDS

    task = load_model_file(path, TaskConfig)
    errors = []
    kind = KINDS.get(task.task_type)
    if kind is None:
        errors.append(f"{path}: field 'task_type': unknown task kind {task.task_type!r} (known: {sorted(KINDS)})")
    else:
        errors += [f"{path}: field '{field}': {message}" for field, message in kind.config_errors(task)]
    off = task.source.offline
    if off is not None:
        spec = LOADERS.get(off.loader)
        if spec is None:
            errors.append(f"{path}: field 'source.offline.loader': unknown loader {off.loader!r} "
                          f"(known: {sorted(LOADERS)})")
        else:
            try:
                spec.options.model_validate(off.options)
            except ValidationError as exc:
                errors += _field_errors(path, "source.offline.options", exc)
    if errors:
        raise ConfigError("\n".join(errors))
    return task


def _load_dir(directory: Path, model: type[M], load=None) -> dict[str, M]:
    if not directory.is_dir():
        raise ConfigError(f"{directory}: config folder not found")
    out: dict[str, M] = {}
    for path in sorted(directory.glob("*.yaml")):
        item = load(path) if load else load_model_file(path, model)
        key = getattr(item, "id", None) or getattr(item, "model", None) or path.stem
        if key != path.stem:
            field = "id" if hasattr(item, "id") else "model"
            raise ConfigError(f"{path}: field '{field}': must equal the file name {path.stem!r}, got {key!r}")
        out[key] = item
    return out


@dataclass(frozen=True)
class BenchConfig:
    """Everything under ``configs/`` plus the ``prompts/`` folder it refers to."""

    root: Path
    tasks: dict[str, TaskConfig]
    models: dict[str, ModelConfig]
    training: dict[str, TrainingConfig]
    pricing: PricingConfig
    run: RunDefaults
    prompts_dir: Path

    def local_models(self) -> list[ModelConfig]:
        return [m for m in self.models.values() if m.kind == "local"]

    def api_models(self) -> list[ModelConfig]:
        return [m for m in self.models.values() if m.kind == "api"]

    def profile(self, name: str) -> ProfileConfig:
        return self.run.profiles[name]

    def lora_sizes(self, task_id: str, profile: str) -> list[LoraSize]:
        """The task's data-efficiency curve under a profile: the profile's, else the task's, else the default."""
        return list(self.profile(profile).lora_sizes or self.tasks[task_id].lora_sizes or self.run.lora_sizes)

    def training_seeds(self, profile: str) -> int:
        return self.profile(profile).training_seeds or self.run.training_seeds

    def model_conditions(self, model_id: str, profile: str) -> list[str]:
        """The model's conditions with ``lora`` expanded to every size any task's curve lists (partitions are one
        set for all tasks; a task whose curve lacks a size skips that cell with the reason)."""
        curve = [n for t in self.tasks for n in self.lora_sizes(t, profile)]
        return expand(self.models[model_id].conditions, curve)

    def training_for(self, model_id: str, task_id: str) -> TrainingConfig:
        model = self.models[model_id]
        if model.training is None:
            raise ConfigError(f"configs/models/{model_id}.yaml: field 'training': not set")
        task = self.tasks[task_id]
        return self.training[model.training].with_overrides(task.training_overrides, task.lora_overrides)


def load_bench_config(root: Path, prompts_dir: Path | None = None) -> BenchConfig:
    root = Path(root)
    prompts_dir = Path(prompts_dir) if prompts_dir else root.parent / "prompts"
    tasks = _load_dir(root / "tasks", TaskConfig, load_task_file)
    models = _load_dir(root / "models", ModelConfig)
    training = _load_dir(root / "training", TrainingConfig)
    pricing = load_model_file(root / "pricing.yaml", PricingConfig)
    run = load_model_file(root / "run_defaults.yaml", RunDefaults)
    if not tasks:
        raise ConfigError(f"{root / 'tasks'}: no task files (*.yaml)")
    if not models:
        raise ConfigError(f"{root / 'models'}: no model files (*.yaml)")

    for m in models.values():
        where = root / "models" / f"{m.id}.yaml"
        if m.training and m.training not in training:
            raise ConfigError(f"{where}: field 'training': no file configs/training/{m.training}.yaml")
        if m.stand_in and (m.stand_in not in models or models[m.stand_in].kind != "local"):
            raise ConfigError(f"{where}: field 'stand_in': {m.stand_in!r} is not a local model config")
        if m.kind == "api" and m.api_model not in pricing.api and m.base_url is None:
            raise ConfigError(
                f"{root / 'pricing.yaml'}: field 'api': no price for {m.api_model!r} (used by {where.name})"
            )
    for name in run.default_models:
        if name not in models:
            raise ConfigError(f"{root / 'run_defaults.yaml'}: field 'default_models': unknown model {name!r}")
    for t in tasks.values():
        prompt = prompts_dir / t.prompt_dir
        if not prompt.is_dir():
            raise ConfigError(f"{root / 'tasks' / (t.id + '.yaml')}: field 'prompt': folder {prompt} not found")
    return BenchConfig(root, tasks, models, training, pricing, run, prompts_dir)
