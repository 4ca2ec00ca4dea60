"""The records passed between assets: one typed record per asset value, named by its stage (``Stage.record``).

The records describe the JSON values exactly as the pure functions write them (they do not reshape them), and
docs/ARCHITECTURE.md lists them from this module (``scripts/architecture_doc.py``). A key a record marks
``NotRequired`` is absent in some values (named in its comment); every other key is always present, ``None`` where
the type says so. A value may hold keys a record does not list: records state what consumers may rely on.

``check_record(name, value, label)`` checks one value against its record in pydantic's strict mode (an int is a
valid float, a str is not; a tuple is not a list); the IO manager calls it before every write, so a renamed or
mistyped field fails the step that wrote it, naming the asset, the partition and the field's JSON path. A cell
record given as ``X | Skipped`` is checked as the member its ``status`` names.

Nested blocks no consumer reads field by field (reports, run details, kind-specific metrics) stay
``dict[str, Any]``; the dashboard's own contract is ``report/dashboard.schema.json``, checked by ``build_dashboard``.
"""

import re
import types
import typing
from functools import lru_cache
from typing import Any, Literal, Union

from typing_extensions import NotRequired, Required, TypedDict  # pydantic needs typing_extensions' on Python < 3.12

# ---------------------------------------------------------------------------------------------------- shared


class Skipped(TypedDict):
    """A cell the data or config cannot support: materialized with its reason, never silently absent."""

    status: Literal["skipped"]
    reason: str
    task: str
    variant: str
    model: NotRequired[str]  # scores' skipped cells only
    condition: NotRequired[str]  # scores' skipped cells only


class DataProvenance(TypedDict):
    """Where a task's rows came from, as prepared_splits records it (and every scored cell carries)."""

    source: Literal["offline", "hub"]
    dataset: str  # Hub dataset path, or the folder under the data root
    revision: str | None  # Hub revision; None offline
    partial: str | None  # why the offline copy is partial (from the task config), else None
    files: dict[str, str]  # offline file -> its sha256; {} from the Hub


# ---------------------------------------------------------------------------------------------------- data


class RawProvenance(TypedDict):
    """Where raw_dataset's rows came from (``DataProvenance`` is what prepared_splits keeps of it)."""

    dataset: str
    revision: str | None
    files: dict[str, str]
    partial: str | None
    loader: str  # the offline loader's name, or "hub"


class RawDataset(TypedDict):
    """raw_dataset[task] (``data.raw.load_raw``): the source's rows, canonical for the task's kind."""

    task: str
    source: Literal["offline", "hub"]
    splits: dict[str, list[dict[str, Any]]]  # source split -> canonical rows of the kind (tasks/<kind>.py)
    labels: list[str] | None  # closed label set, when the source has one
    provenance: RawProvenance
    counts: dict[str, int]  # rows per split
    report: dict[str, Any]  # loader notes (matched files, located clauses, ...)


class Example(TypedDict):
    """One prepared row (``data.examples.make``)."""

    id: str  # <task>-<content hash>: the same content gets the same id
    question_id: str  # == id, except windows of one question (CUAD), which share it
    group: str  # stratum: label, clause type, subject, ...
    fields: dict[str, Any]  # template variables of prompts/<task>/
    target: str  # the assistant text for training and few-shot
    gold: Any  # kind-specific: label, option, list of spans, or {test_list, test_setup_code, ...}
    meta: dict[str, Any]  # extras; prepared rows carry prompt_hash (the rendered messages' hash)


class Splits(TypedDict):
    """The prepared splits; test questions are drawn per eval seed from ``test_pool`` (``test_seeds``)."""

    train: list[Example]
    val: list[Example]
    test_pool: list[Example]  # every test row any eval seed samples (all windows of a windowed question)
    few_shot: list[Example]


class PreparedSplits(TypedDict):
    """prepared_splits[task] (``data.prepare.prepare_task``)."""

    task: str
    labels: list[str] | None
    splits: Splits
    lora_subsets: dict[str, list[str]]  # lora-<N> condition -> its nested subset of train ids
    test_seeds: list[list[str]]  # per eval seed, the sampled test question ids (seed 0 first)
    few_shot_hash: str
    prompt_hash: str  # hash of the task's prompt template files
    skip_conditions: dict[str, str]  # condition -> why this task cannot run it
    provenance: DataProvenance
    report: dict[str, Any]  # counts, sampling, pools, contamination, windows, dropped rows


# ---------------------------------------------------------------------------------------------------- training


class LossPoint(TypedDict):
    """One logged training or validation loss."""

    step: int
    epoch: float | None
    loss: float | None  # None: not finite


class AdapterMetadata(TypedDict, total=False):
    """What an adapter records about itself (``training.trainer.train_adapter``; its baseweight_training.json).
    Not total: a reused adapter's metadata is the file published when it was trained, by the code of that day."""

    backend: str  # unsloth | trl_bnb | cuda_lora_bf16 | peft_cpu (training.backends)
    backend_why: str
    backend_detail: dict[str, Any]
    base_model: str  # base model folder
    hardware: str  # pricing hardware id
    gpu_name: str | None
    devices: int
    n_train: int  # rows trained on, after dropping too-long ones
    n_val: int
    n_train_in: int  # rows given
    n_val_in: int
    train_rendering: dict[str, Any]
    val_rendering: dict[str, Any]
    n_dropped_too_long: int
    n_truncated: int
    long_example_policy: str
    epochs_cap: int
    epochs_cap_by_train_size: int
    epochs_run: float
    steps: int
    max_steps: int
    trained_tokens: int
    train_tokens_per_s: float | None
    stopped_early: bool  # early stopping on validation loss ended training before max_steps
    loss_history: list[LossPoint]
    val_loss_history: list[LossPoint]
    best_val_loss: float | None
    best_checkpoint_step: int | None
    wall_time_s: float  # over every attempt (resumes included)
    wall_time_this_attempt_s: float
    gpu_hours: float  # device-hours of one training
    hourly_rate_usd: float
    training_cost_usd: float
    peak_gpu_mem_mb: float | None
    peak_rss_mb: float
    peak_mem_mb: float  # GPU peak on CUDA, else RSS
    library_versions: dict[str, str | None]
    input_hash: str  # hash of the rows, rendered chats, recipe, epoch cap and backend (training.resume)
    input_fingerprint: str  # the adapter_key it was trained under
    resumed_from: str | None  # checkpoint folder it resumed from
    lora: dict[str, Any]
    training_config: dict[str, Any]
    adapter_sha256: str  # hash of the adapter's payload files
    reused: bool  # published earlier from identical inputs, not trained now


class AdapterRecord(TypedDict):
    """One training seed's adapter (``training.cell.train_lora_cell``)."""

    seed: int  # training seed: the recipe's seed + i
    adapter_key: str  # hash of everything it was trained from: its address under adapters/
    adapter_dir: str
    adapter_sha256: str | None
    reused: bool  # an identical-input adapter was already published; shared, not retrained
    metadata: AdapterMetadata


class CellAdapters(TypedDict):
    """A trained lora_adapter cell: one adapter per training seed, seed 0's also at the top level."""

    status: Literal["ok"]
    reason: None
    task: str
    variant: str
    condition: str
    n_train: int
    adapters: list[AdapterRecord]
    adapter_dir: str  # seed 0's
    adapter_sha256: str | None  # seed 0's
    adapter_key: str  # seed 0's
    metadata: AdapterMetadata  # seed 0's
    gpu_hours_spent: float  # what this materialization trained (a reused adapter costs nothing here)


LoraAdapter = Union[CellAdapters, Skipped]
"""lora_adapter[task × <model>__lora-<N>]."""

# ---------------------------------------------------------------------------------------------------- predictions


class PredictionRow(TypedDict):
    """One answered (or failed) request (``inference.runner.make_row``), as appended to the prediction store."""

    id: str  # the example's id
    question_id: str
    task: str
    model: str
    condition: str
    variant: str
    request_hash: str  # hash of the request body and endpoint: the store's key
    prompt_hash: str
    few_shot_hash: str  # "" without shots
    output: str | None  # None on error
    input_tokens: int
    cached_input_tokens: int  # a subset of input_tokens
    output_tokens: int
    finish_reason: str | None  # "length": cut by the token limit
    latency_s: float | None
    ttft_s: float | None  # time to first token
    avg_logprob: float | None
    error: str | None  # why the request failed; such a row counts as missing
    timestamp: str  # ISO 8601, UTC
    served_by: str  # openai | openai-batch | vllm | engine | fake
    stand_in: bool  # a local model answered for an API model
    seed: NotRequired[int]  # LoRA cells only: the training seed of the adapter that answered


class PredictionsRun(TypedDict, total=False):
    """How one answering pass ran (``inference.runner.predict``; ``inference.batch`` for the Batch API). Which
    keys appear depends on the backend; the required ones are always there."""

    served_by: Required[str]
    stand_in: Required[bool]
    calls_made: Required[int]  # model calls made now (0 when every row came from the store)
    cache_hits: Required[int]  # rows reused from the prediction store
    spend_usd: Required[float]
    errors: Required[int]  # error rows
    hardware: Required[str | None]  # pricing hardware id of this machine; None for the API
    wall_s: float | None
    throughput_qps: float | None
    output_tokens_per_s: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    ttft_p50_s: float | None
    latency_n: int | None  # latency samples behind the percentiles
    saturated_qps: float | None  # throughput of full batches: what self-hosted cost is priced at
    saturated_output_tokens_per_s: float | None
    concurrency: int | None
    latency_concurrency: int
    latency_probe_n: int
    engine: dict[str, Any]  # in-process engine: its description
    batches: int
    full_batches: int
    retries: int
    spend_unconfirmed_usd: float
    stopped_early: str | None  # why the backend stopped (a spending cap)
    rows_done: int
    rows_total: int
    seed: int | None  # the training seed of this pass's adapter
    batch: bool  # Batch API
    batch_id: str | None
    batch_status: str | None


class CellPredictions(TypedDict):
    """An answered predictions cell (``inference.cell.predict_cell``)."""

    status: Literal["ok"]
    reason: None
    task: str
    variant: str
    rows: list[PredictionRow]
    run: PredictionsRun  # the first answering pass (seed 0's adapter in a LoRA cell)
    seeds: NotRequired[list[int]]  # training seeds that answered ([] without adapters); absent from Batch API cells
    per_seed_runs: NotRequired[list[PredictionsRun] | None]  # every pass when several, else None; absent from Batch API


Predictions = Union[CellPredictions, Skipped]
"""local_predictions and api_predictions [task × variant]."""

# ---------------------------------------------------------------------------------------------------- scores


class PerExample(TypedDict):
    """One scored question (the task kind's ``score``, ``tasks/<kind>.py``), plus kind-specific keys
    (classification and multiple choice: ``gold``; extraction: ``n_gold``, ``n_spans``, ``rule``, ``squad_f1``)."""

    question_id: str
    correct: float  # 0..1 (extraction: token F1; code: share of samples passing)
    category: str  # error category (scoring.categories)
    parsed: Any  # the parsed answer; None when nothing parsed
    cluster: str  # resampling unit of the bootstrap (the question, or the task's cluster_by)


class MissingExample(TypedDict):
    """A sampled question without a usable answer."""

    question_id: str
    error: str  # why it counts as missing


class Completeness(TypedDict):
    """Whether enough of the sampled questions were answered (``scoring.score._completeness``)."""

    n_sampled: int
    n_scored: int
    n_missing: int
    missing_share: float | None  # None when nothing was sampled
    threshold: float  # run_defaults.incomplete_threshold
    complete: bool
    missing_examples: list[MissingExample]  # the first few
    per_seed_complete: NotRequired[list[bool | None]]  # LoRA cells only: each training seed's


class SeedScores(TypedDict):
    """One training seed's own scores (``scoring.seeded.PER_SEED_KEYS``)."""

    seed: int
    metric: float | None
    ci_lo: float | None
    ci_hi: float | None
    n: int
    error_counts: dict[str, int]
    completeness: Completeness
    per_example: list[PerExample]


class Sample(TypedDict):
    """A raw output shown on the dashboard (``defs/assets/scoring.raw_samples``)."""

    question_id: str
    category: str | None
    output: str  # the model's raw output, cut to 600 characters


class ScoresRun(PredictionsRun, total=False):
    """The predictions' run plus the token totals of one answering pass (what one query costs)."""

    total_input_tokens: Required[int]
    total_cached_input_tokens: Required[int]
    total_output_tokens: Required[int]
    n_requests: Required[int]


class CellScores(TypedDict):
    """A scored cell (``defs/assets/scoring.score_cell`` around ``scoring.seeded.score_cell``)."""

    status: Literal["ok"]
    reason: None
    task: str
    variant: str
    model: str
    condition: str
    metric_id: str
    metric: float | None  # None when nothing was scored
    ci_lo: float | None  # bootstrap 95 % CI (and seed variance, with several training seeds)
    ci_hi: float | None
    n: int  # scored questions
    n_clusters: int
    seed_values: list[float | None]  # the metric on each eval seed's sample
    seed_mean: float | None
    seed_std: float | None  # None when the eval seeds drew one sample
    seed_note: str | None
    secondary: dict[str, Any]  # the kind's secondary metrics (None: not measured), "ci", code's "sandbox"
    error_counts: dict[str, int]  # category -> questions ("missing" included)
    per_example: list[PerExample]  # seed 0's, in a LoRA cell
    notes: list[str]
    completeness: Completeness
    per_seed: NotRequired[list[SeedScores]]  # LoRA cells only
    n_training_seeds: NotRequired[int]  # LoRA cells only
    seed_variance: NotRequired[dict[str, Any]]  # LoRA cells with several seeds: examples vs seeds variance
    training_seed_values: NotRequired[list[float | None]]  # LoRA cells with several seeds
    run: ScoresRun
    samples: list[Sample]  # a few raw outputs for the dashboard
    sandbox: dict[str, Any] | None  # code tasks: what ran the programs
    provenance: DataProvenance
    profile: str
    prompt_hash: str
    few_shot_hash: str


Scores = Union[CellScores, Skipped]
"""local_scores and api_scores [task × variant]."""

# ---------------------------------------------------------------------------------------------------- report


class SummaryCell(TypedDict):
    """One variant of a task summary (``report.summary._cell``); a skipped cell has only the first eight keys.
    The blocks' fields are the dashboard's ``#/$defs/cell`` (report/dashboard.schema.json)."""

    variant: str
    model: str
    condition: str
    display_name: str
    kind: Literal["local", "api"]
    family: str
    status: Literal["ok", "incomplete", "skipped"]
    reason: str | None
    metric: NotRequired[dict[str, Any]]
    completeness: NotRequired[dict[str, Any] | None]
    correct_share: NotRequired[float | None]
    secondary: NotRequired[dict[str, Any]]
    error_counts: NotRequired[dict[str, int]]
    latency: NotRequired[dict[str, Any]]
    tokens: NotRequired[dict[str, Any]]
    run: NotRequired[dict[str, Any]]
    stand_in: NotRequired[bool]
    sandbox: NotRequired[dict[str, Any] | None]
    training: NotRequired[dict[str, Any] | None]  # LoRA cells: the adapter's facts and training cost
    samples: NotRequired[list[dict[str, Any]]]
    cost: NotRequired[dict[str, Any]]
    break_even: NotRequired[dict[str, Any]]  # usable local cells: API variant -> scenario -> break-even


class TaskSummary(TypedDict):
    """task_summary[task] (``report.summary.summarize_task`` plus the data provenance)."""

    task: str
    name: str
    task_type: str
    metric_id: str
    metric_label: str
    accuracy_basis: str  # what cost per 1k correct counts as correct
    default_daily_volume: int
    default_scenario: str
    error_categories: list[str]  # every category the cells count, failures first
    cells: dict[str, SummaryCell]  # variant -> cell
    order: list[str]  # variants, best usable metric first
    pareto: dict[str, list[str]]  # price scenario -> variants on the accuracy/cost front
    tco_curves: dict[str, Any]  # {volumes, by_scenario: scenario -> variant -> 12-month TCO per volume}
    comparisons: list[dict[str, Any]]  # the paired comparisons shown (report.comparisons)
    comparison_stats: dict[str, Any]  # how their p-values are corrected, and every pair tested
    curves: dict[str, Any]  # open model -> data-efficiency curve (report.curve_inputs)
    data_provenance: dict[str, Any] | None  # prepared_splits' provenance plus prompt and few-shot hashes


class DashboardData(TypedDict):
    """dashboard_data (``report.dashboard.build_dashboard``); report/dashboard.schema.json is its full contract."""

    schema_version: str
    generated_at: str
    profile: str
    package_version: str
    flags: dict[str, Any]
    pricing: dict[str, Any]
    scenarios: list[str]
    provenance: dict[str, Any]
    tasks: dict[str, dict[str, Any]]  # task -> its summary plus flags and provenance
    task_order: list[str]
    cross_task: dict[str, Any]
    curves: dict[str, Any]


class DashboardSite(TypedDict):
    """dashboard_site (``report.site_build.build_site``)."""

    index: str  # the site's index.html


# ---------------------------------------------------------------------------------------------------- checking


class RecordError(ValueError):
    """A value does not match its record; ``issues`` are (JSON path, message) pairs, the first few of them."""

    def __init__(self, message: str, issues: list[tuple[str, str]]):
        super().__init__(message)
        self.issues = issues


MAX_ISSUES = 5


def record_type(name: str) -> Any:
    """The record called ``name`` in this module (a TypedDict, or a ``Union`` of cell records)."""
    try:
        return records()[name]
    except KeyError:
        raise KeyError(f"no record {name!r} in {__name__}") from None


def check_record(name: str, value: object, label: str) -> None:
    """Raise RecordError when ``value`` does not match record ``name``: one line per issue (the first
    ``MAX_ISSUES``), ``<label>: <JSON path>: <what is wrong>``, e.g.
    ``local_scores[fpb|smollm2-135m__zero-shot]: $.completeness.missing_share: Input should be a valid number``."""
    issues = _issues(name, value)
    if issues:
        lines = [f"{label}: {path}: {msg}" for path, msg in issues[:MAX_ISSUES]]
        if len(issues) > MAX_ISSUES:
            lines.append(f"{label}: ... and {len(issues) - MAX_ISSUES} more")
        raise RecordError("\n".join([*lines, f"(record {name}, baseweight_assets/pipeline/records.py)"]),
                          issues[:MAX_ISSUES])


def _issues(name: str, value: object) -> list[tuple[str, str]]:
    from pydantic import ValidationError

    validators = _validators(name)
    if len(validators) > 1:  # a union of cell records: the value's status picks the member
        status = value.get("status") if isinstance(value, dict) else None
        if status not in validators:
            return [("$.status", f"Input should be {' or '.join(repr(s) for s in validators)}")]
        adapter = validators[status]
    else:
        (adapter,) = validators.values()
    try:
        adapter.validate_python(value, strict=True)
    except ValidationError as exc:
        return [(json_path(err["loc"]), err["msg"]) for err in exc.errors(include_url=False)]
    return []


@lru_cache(maxsize=None)
def _validators(name: str) -> dict[str | None, Any]:
    """status -> TypeAdapter for a union of cell records, else {None: TypeAdapter}; built once per record."""
    from pydantic import TypeAdapter

    tp = record_type(name)
    members = union_members(tp)
    if not members:
        return {None: TypeAdapter(tp)}
    out = {}
    for member in members:
        (status,) = typing.get_args(typing.get_type_hints(member)["status"])
        out[status] = TypeAdapter(member)
    return out


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(loc: tuple) -> str:
    """pydantic's error location as a JSON path: ``$.rows[3].latency_s``, ``$.cells['gpt-5__zero-shot'].metric``."""
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            out += f".{part}"
        else:
            out += f"[{str(part)!r}]"
    return out


def _is_typed_dict(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def union_members(tp: object) -> tuple:
    """The members of a cell record union (``CellScores | Skipped``: TypedDicts told apart by ``status``), else ()."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        members = typing.get_args(tp)
        if all(_is_typed_dict(m) and "status" in m.__annotations__ for m in members):
            return members
    return ()


def records() -> dict[str, Any]:
    """Every record of this module by name, in source order (the TypedDicts and the cell unions)."""
    return {name: value for name, value in globals().items()
            if not name.startswith("_") and (_is_typed_dict(value) and value.__module__ == __name__
                                             or union_members(value))}
