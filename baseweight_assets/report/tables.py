"""The dashboard as flat tables: CSV for spreadsheets, Markdown for READMEs and Dagster metadata.

Markdown tables are written here (a dozen lines) rather than through pandas.to_markdown, which needs
the extra ``tabulate`` dependency.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from baseweight_assets.storage.atomic import write_text

RESULT_COLUMNS = ["task", "variant", "model", "condition", "status", "flags", "metric_id", "metric", "ci_lo",
                  "ci_hi", "seed_mean", "seed_std", "n", "correct_share", "latency_p50_s", "latency_p95_s",
                  "ttft_p50_s", "throughput_qps", "input_tokens", "output_tokens", "cost_basis", "hardware",
                  "cost_per_query", "cost_per_1k_correct", "tco_12mo", "gpus", "training_cost_once",
                  "adapter_sha256", "reason"]
BREAK_EVEN_COLUMNS = ["task", "self_hosted", "api", "scenario", "break_even_daily_volume", "always_cheaper_above",
                      "reason"]
COMPARISON_COLUMNS = ["task", "kind", "a", "b", "metric_a", "metric_b", "diff", "paired_ci_lo", "paired_ci_hi",
                      "p_value", "test", "n", "cost_per_1k_correct_ratio", "error"]


def _result_rows(dashboard: dict, scenario: str) -> list[dict]:
    rows = []
    for tid in dashboard["task_order"]:
        task = dashboard["tasks"][tid]
        for key in task["order"]:
            c = task["cells"][key]
            row = {"task": tid, "variant": key, "model": c["model"], "condition": c["condition"],
                   "status": c["status"], "flags": " ".join(c["flags"]), "reason": c["reason"]}
            if c["status"] == "ok":
                m, lat, cost = c["metric"], c["latency"], c["cost"]
                sc = cost["by_scenario"].get(scenario, {})
                training = c.get("training") or {}
                row |= {"metric_id": m["id"], "metric": m["value"], "ci_lo": m["ci_lo"], "ci_hi": m["ci_hi"],
                        "seed_mean": m["seed_mean"], "seed_std": m["seed_std"], "n": m["n"],
                        "correct_share": c["correct_share"], "input_tokens": c["tokens"]["input_total"],
                        "output_tokens": c["tokens"]["output_total"], "cost_basis": cost["basis"],
                        "hardware": cost.get("hardware"), "cost_per_query": sc.get("per_query"),
                        "cost_per_1k_correct": sc.get("per_1k_correct"),
                        "tco_12mo": (sc.get("tco_12mo") or {}).get("total"),
                        "gpus": (sc.get("tco_12mo") or {}).get("gpus"),
                        "training_cost_once": (training.get("cost_by_scenario", {}).get(scenario) or {}).get("once"),
                        "adapter_sha256": training.get("adapter_sha256"),
                        "reason": cost["error"] or cost["note"]}
                row |= {k: lat.get(k) for k in ("latency_p50_s", "latency_p95_s", "ttft_p50_s", "throughput_qps")}
            rows.append(row)
    return rows


def _break_even_rows(dashboard: dict) -> list[dict]:
    rows = []
    for tid in dashboard["task_order"]:
        for key, cell in dashboard["tasks"][tid]["cells"].items():
            for api, by in (cell.get("break_even") or {}).items():
                for scenario in dashboard["scenarios"]:
                    b = by[scenario]
                    rows.append({"task": tid, "self_hosted": key, "api": api, "scenario": scenario,
                                 "break_even_daily_volume": b["daily_volume"],
                                 "always_cheaper_above": b["always_cheaper_above"], "reason": b["reason"]})
    return rows


def _comparison_rows(dashboard: dict) -> list[dict]:
    rows = []
    for tid in dashboard["task_order"]:
        for c in dashboard["tasks"][tid]["comparisons"]:
            p = c["paired"]
            rows.append({"task": tid, "kind": c["kind"], "a": c["a"], "b": c["b"], "metric_a": c["metric_a"],
                         "metric_b": c["metric_b"], "diff": c["diff"], "paired_ci_lo": p.get("ci_lo"),
                         "paired_ci_hi": p.get("ci_hi"), "p_value": p.get("p_value"), "test": p.get("test"),
                         "n": p.get("n"), "cost_per_1k_correct_ratio": c.get("cost_per_1k_correct_ratio"),
                         "error": p.get("error")})
    return rows


def _csv_text(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def _md_cell(value) -> str:
    # pipes and newlines would break the table; < > & are escaped so model text cannot inject HTML
    text = _fmt(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _flag_lines(dashboard: dict) -> list[str]:
    return [f"> **Flag:** {_md_cell(m)}" for m in dashboard["flags"]["messages"]]


def export_tables(dashboard: dict, out_dir: Path) -> dict[str, Path]:
    """Write results/break_even/comparisons as CSV plus results.md; returns name -> path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario = dashboard["pricing"]["default_scenario"]
    results, breaks, comps = _result_rows(dashboard, scenario), _break_even_rows(dashboard), _comparison_rows(dashboard)
    files = {"results.csv": _csv_text(results, RESULT_COLUMNS),
             "break_even.csv": _csv_text(breaks, BREAK_EVEN_COLUMNS),
             "comparisons.csv": _csv_text(comps, COMPARISON_COLUMNS),
             "results.md": markdown_preview(dashboard, max_rows=len(results)) + "\n\n## Paired comparisons\n\n"
             + _md_table(comps, COMPARISON_COLUMNS) + "\n"}
    paths = {}
    for name, text in files.items():
        write_text(out_dir / name, text, newline="")
        paths[name] = out_dir / name
    return paths


PREVIEW_COLUMNS = ["variant", "status", "metric", "ci_lo", "ci_hi", "seed_std", "correct_share", "cost_per_query",
                   "cost_per_1k_correct", "tco_12mo", "latency_p50_s", "flags"]


def markdown_preview(dashboard: dict, max_rows: int = 40) -> str:
    scenario = dashboard["pricing"]["default_scenario"]
    volume = dashboard["pricing"]["default_daily_volume"]
    head = [f"# Baseweight Bench results ({dashboard['profile']} profile, {dashboard['generated_at']})", "",
            f"Costs in USD at the **{scenario}** GPU price scenario; TCO is 12 months at {volume:,} queries/day.",
            *_flag_lines(dashboard)]
    rows, shown = _result_rows(dashboard, scenario), 0
    parts = ["\n".join(head)]
    for tid in dashboard["task_order"]:
        task = dashboard["tasks"][tid]
        task_rows = [r for r in rows if r["task"] == tid][: max(0, max_rows - shown)]
        shown += len(task_rows)
        parts.append(f"## {_md_cell(task['name'])}\n\nMetric: {task['metric_label']}; cost per 1k correct counts "
                     f"{task['accuracy_basis']}.\n\n" + _md_table(task_rows, PREVIEW_COLUMNS))
        if shown >= max_rows:
            parts.append(f"_Preview cut at {max_rows} rows; results.csv has all {len(rows)}._")
            break
    return "\n\n".join(parts)
