"""The versioned dashboard JSON: task summaries + flags, pricing snapshot, provenance, cross-task summary and the
data-efficiency ``curves`` section.

Cross-task summary: per task, the best LoRA cell against the best API cell, both chosen on the test set among
COMPLETE cells (incomplete cells are listed per row, never compared). Its p-value is ``p_selection``: Holm-adjusted
over every LoRA x API pair of the task (``report.comparisons``), which accounts for that choice. Each row answers
its own task's question, so rows are not corrected across tasks; the page says so. "Significantly better" counts
rows whose difference is positive with ``p_selection`` < ``ALPHA``.
"""

from __future__ import annotations

import copy
import json
import math
from functools import lru_cache
from pathlib import Path

import jsonschema

from baseweight_assets.config.loader import BenchConfig
from baseweight_assets.conditions import is_lora
from baseweight_assets.cost.pricing import SCENARIOS, trainings_per_year
from baseweight_assets.curves.build import CURVES_VERSION
from baseweight_assets.report.curve_inputs import curve_verdict

SCHEMA_VERSION = "2.0.0"
ALPHA = 0.05
CROSS_TASK_RULE = ("Best LoRA and best API cell of each task are picked on the test set among complete cells. p "
                   "(selection) is Holm-adjusted over every LoRA x API pair of the task, which accounts for that "
                   "pick; each row answers its own task's question and is not corrected across tasks. "
                   "Significant: LoRA - API > 0 with p (selection) < {alpha:g}. The paired CI is the unadjusted "
                   "95 % interval.")
SCHEMA_PATH = Path(__file__).with_name("dashboard.schema.json")


class DashboardSchemaError(ValueError):
    """The dashboard dict does not match dashboard.schema.json; the message names the JSON path."""


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_dashboard(data: dict) -> None:
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"$.{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors[:10]]
        more = f"\n... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise DashboardSchemaError(f"dashboard JSON does not match {SCHEMA_PATH.name}:\n" + "\n".join(lines) + more)


def _json_safe(value):
    """NaN/inf are not JSON; they become null (the schema treats null as 'not measured')."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _best(summary: dict, pick) -> str | None:
    for key in summary["order"]:
        cell = summary["cells"][key]
        if cell["status"] == "ok" and cell["metric"]["value"] is not None and pick(cell):
            return key
    return None


def _cross_task(tasks: dict[str, dict], curves: dict[str, dict]) -> dict:
    rows, better, significant = [], 0, 0
    for tid, s in tasks.items():
        best = _best(s, lambda c: True)
        lora = _best(s, lambda c: is_lora(c["condition"]))
        api = _best(s, lambda c: c["kind"] == "api")
        cmp = next((c for c in s["comparisons"] if c["kind"] == "lora_vs_api" and c["a"] == lora and c["b"] == api),
                   None)
        value = (lambda k: s["cells"][k]["metric"]["value"] if k else None)
        paired = (cmp or {}).get("paired", {})
        row = {"task": tid, "name": s["name"], "metric_label": s["metric_label"], "best": best,
               "best_metric": value(best), "best_lora": lora, "best_lora_metric": value(lora), "best_api": api,
               "best_api_metric": value(api), "lora_minus_api": cmp["diff"] if cmp else None,
               "p_value": paired.get("p_value"), "test": paired.get("test"),
               "p_selection": (cmp or {}).get("p_selection"), "selection_m": (cmp or {}).get("selection_m"),
               "selection_p_floor": (cmp or {}).get("selection_p_floor"),
               "paired_ci": [paired.get("ci_lo"), paired.get("ci_hi")], "ci_method": paired.get("ci_method"),
               "cost_per_1k_correct_ratio": cmp["cost_per_1k_correct_ratio"] if cmp else None,
               "incomplete": sorted(k for k, c in s["cells"].items() if c["status"] == "incomplete"),
               "verdicts": [{"model": c["model"], "display_name": c["display_name"], "status": c["status"],
                             "verdict": c["verdict"], "n_star": (c.get("n_star") or {}).get("value"),
                             "best_api": c.get("best_api")} for _, c in sorted(curves.get(tid, {}).items())],
               "flags": s["flags"]}
        if cmp:
            better += cmp["diff"] > 0
            significant += cmp["diff"] > 0 and row["p_selection"] is not None and row["p_selection"] < ALPHA
        rows.append(row)
    return {"rows": rows, "n_tasks_compared": sum(r["lora_minus_api"] is not None for r in rows),
            "lora_better_than_best_api": int(better), "lora_significantly_better": int(significant),
            "alpha": ALPHA, "rule": CROSS_TASK_RULE.format(alpha=ALPHA)}


def _curves_section(tasks: dict[str, dict], bench: BenchConfig, smoke: bool) -> dict:
    """Take each task's curves out of its summary, with the verdict rewritten under the dashboard's flags."""
    by_task = {}
    for tid, s in tasks.items():
        curves = s.pop("curves", None) or {}
        for curve in curves.values():
            partial = (s["partial_reason"] or "").strip().rstrip(".") or None  # the sentence adds its own stop
            curve["verdict"] = curve_verdict(curve, smoke=smoke, partial=partial,
                                             scenario=s["default_scenario"],
                                             min_volume=min(s["tco_curves"]["volumes"]))
        by_task[tid] = curves
    return {"curves_version": CURVES_VERSION, "margin": bench.run.noninferiority_margin, "by_task": by_task}


def build_dashboard(bench: BenchConfig, summaries: dict[str, dict], *, profile: str, generated_at: str,
                    package_version: str, provenance: dict) -> dict:
    """``provenance["tasks"][task]`` carries the prepared_splits provenance (source, dataset, revision,
    partial) plus prompt_hash / few_shot_hash; anything else in ``provenance`` is kept as given."""
    task_prov = provenance.get("tasks", {})
    smoke = profile == "smoke"
    partial_tasks, stand_ins, incomplete, messages = [], [], [], []
    if smoke:
        messages.append("Smoke profile: a handful of rows per split and one epoch. These numbers check the "
                        "plumbing; they are not results.")
    tasks = {}
    for tid in sorted(summaries):
        s = copy.deepcopy(summaries[tid])
        prov = dict(task_prov.get(tid, {}))
        partial = prov.get("partial")
        s["partial_reason"] = partial
        s["provenance"] = prov
        base_flags = {"smoke"} if smoke else set()
        if partial:
            partial_tasks.append(tid)
            base_flags.add("partial_data")
            messages.append(f"{tid}: partial offline data. {partial.strip()}")
        task_flags = set(base_flags)
        for key, cell in s["cells"].items():
            flags = set(base_flags)
            if cell.get("stand_in"):
                flags.add("stand_in")
                stand_ins.append(f"{tid}|{key}")
            if cell["status"] == "incomplete":
                flags.add("incomplete")
                incomplete.append(f"{tid}|{key}")
            cell["flags"] = sorted(flags)
            task_flags |= flags
        s["flags"] = sorted(task_flags)
        tasks[tid] = s
    if stand_ins:
        messages.append(f"{len(stand_ins)} API cell(s) were answered by a local stand-in model, not the API: "
                        "their accuracy and latency are the stand-in's; cost applies API prices to its tokens.")
    if incomplete:
        messages.append(f"{len(incomplete)} cell(s) are incomplete (too many questions without an answer, e.g. failed "
                        f"requests): {', '.join(incomplete)}. They show what was scored and their missing share, and "
                        "are left out of every comparison, Pareto front, curve and the cross-task summary.")
    models = {m.id: {"display_name": m.display_name, "kind": m.kind, "hf_id": m.hf_id, "revision": m.revision,
                     "api_model": m.api_model} for m in bench.models.values()}
    pricing = bench.pricing.model_dump(mode="json") | {"trainings_per_year": trainings_per_year(bench.pricing)}
    curves = _curves_section(tasks, bench, smoke)
    data = {
        "schema_version": SCHEMA_VERSION, "generated_at": generated_at, "profile": profile,
        "package_version": package_version,
        "flags": {"smoke": smoke, "partial_data": partial_tasks, "stand_in": stand_ins, "incomplete": incomplete,
                  "any": bool(smoke or partial_tasks or stand_ins or incomplete), "messages": messages},
        "pricing": pricing, "scenarios": list(SCENARIOS),
        "provenance": {**provenance, "package_version": package_version, "models": models, "tasks": task_prov},
        "tasks": tasks, "task_order": sorted(tasks), "cross_task": _cross_task(tasks, curves["by_task"]),
        "curves": curves,
    }
    data = _json_safe(data)
    validate_dashboard(data)
    return data
