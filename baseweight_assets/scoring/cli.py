"""``baseweight-score TASK PREDICTIONS.jsonl``: score a JSONL of model outputs with the bench's own rules.

Each line: ``id``, ``output`` (raw model text), ``gold`` (label string; CUAD: the list of gold spans, [] for
an absent clause; MBPP: the ``test_list``). Optional: ``question_id`` (CUAD windows of one question share it;
default: ``id``), ``finish_reason`` ("length" marks an output cut by the token limit), ``error`` (the request
failed: the question is missing, never wrong), ``context`` (CUAD window text, enables the not-in-contract
hallucination check), ``cluster`` (questions resampled together, e.g. the contract; default: the question
itself), ``avg_logprob`` (CUAD: confidence for AUPR) and ``test_setup_code`` (MBPP).
Prints ONE JSON object built by ``score_predictions``: the headline ``metric`` (CUAD: multi-span F1) with its
``ci_lo``/``ci_hi``, ``secondary`` (CUAD: ``squad_f1``, ``detection_f1``, AUPR, ...), ``error_counts`` and
``completeness``. A bad line fails with exit code 2 and a message naming file:line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from baseweight_assets.config.errors import ConfigError
from baseweight_assets.config.loader import load_model_file
from baseweight_assets.config.schema import RunDefaults, TaskConfig
from baseweight_assets.scoring.sandbox import SandboxUnavailable
from baseweight_assets.scoring.score import score_predictions
from baseweight_assets.tasks import kind_of

DEFAULT_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


class InputError(ValueError):
    """Bad predictions file; the message names the file and line."""


def _gold(task: TaskConfig, row: dict, where: str) -> object:
    try:
        return kind_of(task).gold_from_record(row, where)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _optional(row: dict, key: str, types: tuple, where: str, what: str):
    value = row.get(key)
    if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
        raise InputError(f"{where}: '{key}' must be {what} or null")
    return value


def read_rows(path: Path, task: TaskConfig) -> tuple[dict, list[dict]]:
    """A minimal prepared_splits dict (one test_pool example per row, one seed) and the prediction rows."""
    pool, rows, gold_by_q, cluster_by_q, seen = [], [], {}, {}, set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "id" not in row or "output" not in row or "gold" not in row:
            raise InputError(f"{where}: each line needs an object with 'id', 'output' and 'gold'")
        if not isinstance(row["output"], str):
            raise InputError(f"{where}: 'output' must be a string")
        lp = _optional(row, "avg_logprob", (int, float), where, "a number")
        error = _optional(row, "error", (str,), where, "a string")
        finish = _optional(row, "finish_reason", (str,), where, "a string")
        context = _optional(row, "context", (str,), where, "a string")
        cluster = _optional(row, "cluster", (str, int), where, "a string")
        rid, qid = str(row["id"]), str(row.get("question_id", row["id"]))
        gold = _gold(task, row, where)
        if qid in gold_by_q and gold_by_q[qid] != gold:
            raise InputError(f"{where}: gold differs from an earlier row of question {qid!r}")
        cluster = str(cluster) if cluster is not None else qid
        if qid in cluster_by_q and cluster_by_q[qid] != cluster:
            raise InputError(f"{where}: cluster differs from an earlier row of question {qid!r}")
        if rid in seen:
            raise InputError(f"{where}: duplicate id {rid!r}")
        seen.add(rid)
        gold_by_q[qid], cluster_by_q[qid] = gold, cluster
        fields = {"context": context} if context is not None else {}
        pool.append({"id": rid, "question_id": qid, "gold": gold, "fields": fields, "meta": {"cluster": cluster}})
        rows.append({"id": rid, "question_id": qid, "output": row["output"], "avg_logprob": lp, "error": error,
                     "finish_reason": finish})
    if not rows:
        raise InputError(f"{path}: no prediction rows")
    prepared = {"task": task.id, "labels": task.labels, "splits": {"test_pool": pool},
                "test_seeds": [list(dict.fromkeys(r["question_id"] for r in rows))]}
    return prepared, rows


def _threshold(configs: Path) -> float:
    path = configs / "run_defaults.yaml"
    return load_model_file(path, RunDefaults).incomplete_threshold if path.is_file() else \
        RunDefaults.model_fields["incomplete_threshold"].default


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="baseweight-score", description=__doc__.splitlines()[0])
    parser.add_argument("task", help="task id: configs/tasks/TASK.yaml")
    parser.add_argument("predictions", type=Path, help="JSONL file of predictions")
    parser.add_argument("--configs", type=Path, default=DEFAULT_CONFIGS, help="configs folder")
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="parallel sandbox processes (MBPP)")
    parser.add_argument("--per-example", action="store_true", help="include the per-question entries")
    parser.add_argument("--incomplete-threshold", type=float, default=None,
                        help="largest missing share of a complete result (default: run_defaults.yaml's)")
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="code tasks: run generated programs even without bubblewrap (recorded in the output)")
    args = parser.parse_args(argv)
    try:
        task = load_model_file(args.configs / "tasks" / f"{args.task}.yaml", TaskConfig)
        prepared, rows = read_rows(args.predictions, task)
        notes = []
        if task.cluster_by and all(ex["meta"]["cluster"] == ex["question_id"] for ex in prepared["splits"]["test_pool"]):
            notes.append(f"no 'cluster' column: each question is its own cluster (the bench clusters {task.id} "
                         f"questions by {task.cluster_by!r})")
        task = task.model_copy(update={"cluster_by": "cluster"})
        labels = task.labels
        if labels is None and kind_of(task).uses_labels:
            labels = sorted({ex["gold"] for ex in prepared["splits"]["test_pool"]})
        threshold = args.incomplete_threshold if args.incomplete_threshold is not None else _threshold(args.configs)
        result = score_predictions(task, prepared, rows, labels=labels, n_bootstrap=args.n_bootstrap,
                                   seed=args.seed, workers=args.workers, incomplete_threshold=threshold,
                                   allow_unsandboxed=args.allow_unsandboxed)
        result["notes"] = notes + result["notes"]
    except (ConfigError, InputError, ValueError, SandboxUnavailable) as exc:
        print(f"baseweight-score: {exc}", file=sys.stderr)
        return 2
    if not args.per_example:
        result.pop("per_example")
    result = {"task": task.id, **result}
    json.dump(result, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
