"""The task-kind interface: everything that differs between classification, multiple choice, extraction and code.

A task's ``task_type`` names its kind (``registry.kind_of``). The kind says

- how examples are built from the canonical rows its loaders emit (``example``), how the pools are cleaned
  (``refine_pools``) and how drawn questions become prompt rows (``rows``: one row per question, or windows);
- which outputs decoding may produce (``allowed_outputs``: the closed-label constraint, or None);
- how an output is parsed (``parser``), how the scored questions are scored (``score``), which secondary metrics
  get a CI (``secondary_cis``), and its error categories (``categories``, failures first, successes last);
- how a gold answer is read from a ``baseweight-score`` input line (``gold_from_record``), and which configs fit it
  (``metrics``, ``config_errors``).

``data.prepare``, ``scoring.score``, ``scoring.cli`` and ``inference.requests`` ask the kind; none of them branches
on a task_type string. A new kind is one module with a ``TaskKind`` subclass plus one line in ``registry``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from baseweight_assets.data.contamination import drop_test_overlaps
from baseweight_assets.data.pools import dedupe
from baseweight_assets.scoring.categories import count_categories

if TYPE_CHECKING:
    from baseweight_assets.config.schema import TaskConfig
    from baseweight_assets.scoring.sandbox import SandboxLimits


@dataclass
class Drawn:
    """What preparation drew from the pools: train, val and few-shot examples and the test questions (the union of
    the eval seeds). ``TaskKind.rows`` turns them into the rows prompts are rendered from."""

    train: list[dict]
    val: list[dict]
    few_shot: list[dict]
    test: list[dict]


@dataclass(frozen=True)
class ScoringInput:
    """The scored (not missing) questions of one cell and what scoring them needs."""

    task: TaskConfig
    ids: list[str]  # scored question ids, in sample order
    gold: dict[str, Any]  # question id -> gold answer, for every test_pool question
    rows: dict[str, list[dict]]  # question id -> its prediction rows
    windows: dict[str, list[str]]  # question id -> its test_pool example ids, in pool order
    pool: list[dict]  # test_pool
    labels: list[str] | None  # closed label set from the caller, the prepared splits or the config
    sandbox: SandboxLimits | None = None
    workers: int | None = None
    allow_unsandboxed: bool = False  # run generated code without bubblewrap (an explicit opt-in, recorded)


@dataclass
class KindScores:
    """``per_example``: one entry per scored question (``question_id``, ``correct`` in 0..1, ``category``,
    ``parsed`` and kind-specific keys); ``secondary``: the kind's secondary metrics; ``notes``: caveats."""

    per_example: list[dict]
    secondary: dict
    notes: list[str] = field(default_factory=list)


class TaskKind(ABC):
    name: ClassVar[str]  # the task_type that selects this kind
    categories: ClassVar[tuple[str, ...]]  # error categories: "missing", "truncated", failures, then successes
    metrics: ClassVar[tuple[str, ...]]  # headline metrics a task of this kind may choose
    windowed: ClassVar[bool] = False  # a question spans several test rows; it is missing unless all are answered
    uses_labels: ClassVar[bool] = False  # answers are one of a closed label set

    # ------------------------------------------------------------------ preparing

    @abstractmethod
    def example(self, task_id: str, row: dict, labels: list[str] | None) -> dict:
        """One Example (``data.examples.make``) from one canonical row of this kind."""

    def documents(self, task: TaskConfig, raw: dict) -> Any:
        """The long texts examples point into, built once per preparation (None: the kind has none)."""
        return None

    def refine_pools(self, task: TaskConfig, pools: dict[str, list[dict]], documents: Any,
                     report: dict) -> dict[str, list[dict]]:
        """The pools after the kind's cleaning. Default: drop exact duplicates within each pool, then every train/
        val/few-shot row that duplicates or near-duplicates a test row (both counted in ``report``)."""
        for name in list(pools):
            pools[name], dropped = dedupe(pools[name])
            if dropped:
                report.setdefault("dropped_exact_duplicates", {})[name] = dropped
        report["contamination_removed"] = drop_test_overlaps(pools)
        return pools

    def rows(self, task: TaskConfig, drawn: Drawn, documents: Any, *, test_pool: list[dict],
             rows_per_split: int | None, report: dict) -> Drawn:
        """The rows prompts are rendered from; ``test`` becomes the test_pool. Default: one row per question."""
        return drawn

    # ------------------------------------------------------------------ decoding

    def allowed_outputs(self, task: TaskConfig, labels: list[str] | None) -> list[str] | None:
        """The only outputs a constrained decoder may produce (closed labels), or None: free text."""
        return None

    # ------------------------------------------------------------------ parsing and scoring

    @abstractmethod
    def parser(self, labels: list[str] | None) -> Callable[[str], Any]:
        """``parse(output) -> answer`` (None: no valid answer), built once per label set."""

    @abstractmethod
    def score(self, given: ScoringInput) -> KindScores:
        """Score the scored questions of one cell (rules in the kind's module)."""

    def secondary_cis(self, task: TaskConfig, per_example: list[dict], n_bootstrap: int, seed: int) -> dict:
        """Bootstrap CIs of secondary metrics, ``{name: [lo, hi]}``."""
        return {}

    @abstractmethod
    def gold_from_record(self, record: dict, where: str) -> Any:
        """The gold answer of a ``baseweight-score`` input line; ValueError naming ``where`` when malformed."""

    def count_categories(self, categories: list[str]) -> dict[str, int]:
        """Counts for every category of the kind (zeros included), failures first, successes last."""
        return count_categories(self.categories, categories, self.name)

    # ------------------------------------------------------------------ configuration

    def config_errors(self, task: TaskConfig) -> list[tuple[str, str]]:
        """``(field, what is wrong)`` for every setting of ``task`` this kind cannot run with."""
        if task.metric not in self.metrics:
            return [("metric", f"{task.metric!r} is not a metric of task_type {self.name!r} (one of {list(self.metrics)})")]
        return []
