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
                  "ci_hi", "n_seeds", "seed_sd", "seed_mean", "seed_std", "seed_note", "n", "missing_share",
                  "correct_share", "latency_p50_s", "latency_p95_s", "ttft_p50_s", "latency_n", "saturated_qps",
                  "throughput_qps", "input_tokens", "cached_input_tokens", "output_tokens", "cost_basis", "hardware",
                  "sandbox", "cost_per_query", "cost_per_1k_correct", "tco_12mo", "gpus", "training_cost_once",
                  "adapter_sha256", "reason"]
BREAK_EVEN_COLUMNS = ["task", "self_hosted", "api", "scenario", "break_even_daily_volume", "always_cheaper_above",
                      "reason"]
COMPARISON_COLUMNS = ["task", "kind", "a", "b", "metric_a", "metric_b", "diff", "paired_ci_lo", "paired_ci_hi",
                      "ci_method", "p_value", "test", "p_holm", "p_selection", "selection_m", "mde", "n",
                      "cost_per_1k_correct_ratio", "error"]
CURVE_COLUMNS = ["task", "model", "n", "variant", "n_seeds", "metric", "ci_lo", "ci_hi", "fitted", "residual",
                 "var_examples", "var_seeds", "seed_sd", "best_api", "diff_vs_best_api", "diff_ci_lo", "diff_ci_hi",
                 "noninferior", "labelling_usd", "gpu_hours", "training_once_usd"]
VERDICT_COLUMNS = ["task", "model", "status", "best_api", "margin", "n_star", "n_star_ci_lo", "n_star_ci_hi",
                   "n_star_censored", "fit_form", "fit_r2", "verdict"]
SURFACE_COLUMNS = ["task", "model", "scenario", "n", "break_even_daily_volume", "always_cheaper_above", "reason"]


def _result_rows(dashboard: dict, scenario: str) -> list[dict]:
    rows = []
    for tid in dashboard["task_order"]:
        task = dashboard["tasks"][tid]
        for key in task["order"]:
            c = task["cells"][key]
            row = {"task": tid, "variant": key, "model": c["model"], "condition": c["condition"],
                   "status": c["status"], "flags": " ".join(c["flags"]), "reason": c["reason"]}
            if c["status"] in ("ok", "incomplete"):
                m, lat, cost = c["metric"], c["latency"], c["cost"]
                sc = cost["by_scenario"].get(scenario, {})
                training = c.get("training") or {}
                sandbox = c.get("sandbox") or {}
                row |= {"metric_id": m["id"], "metric": m["value"], "ci_lo": m["ci_lo"], "ci_hi": m["ci_hi"],
                        "n_seeds": m.get("n_seeds"), "seed_sd": (m.get("variance") or {}).get("seed_sd"),
                        "seed_mean": m["seed_mean"], "seed_std": m["seed_std"], "seed_note": m.get("seed_note"),
                        "n": m["n"], "missing_share": (c.get("completeness") or {}).get("missing_share"),
                        "correct_share": c["correct_share"], "input_tokens": c["tokens"]["input_total"],
                        "cached_input_tokens": c["tokens"].get("cached_input_total"),
                        "output_tokens": c["tokens"]["output_total"], "cost_basis": cost["basis"],
                        "hardware": cost.get("hardware"), "sandbox": sandbox.get("backend"),
                        "cost_per_query": sc.get("per_query"), "cost_per_1k_correct": sc.get("per_1k_correct"),
                        "tco_12mo": (sc.get("tco_12mo") or {}).get("total"),
                        "gpus": (sc.get("tco_12mo") or {}).get("gpus"),
                        "training_cost_once": (training.get("cost_by_scenario", {}).get(scenario) or {}).get("once"),
                        "adapter_sha256": training.get("adapter_sha256"),
                        "reason": "; ".join(x for x in (c["reason"] if c["status"] == "incomplete" else None,
                                                        cost["error"], cost["note"]) if x) or None}
                row |= {k: lat.get(k) for k in ("latency_p50_s", "latency_p95_s", "ttft_p50_s", "latency_n",
                                                 "saturated_qps", "throughput_qps")}
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
                         "paired_ci_hi": p.get("ci_hi"), "ci_method": p.get("ci_method"), "p_value": c["p_value"],
                         "test": p.get("test"), "p_holm": c["p_holm"], "p_selection": c["p_selection"],
                         "selection_m": c["selection_m"], "mde": p.get("mde"), "n": p.get("n"),
                         "cost_per_1k_correct_ratio": c.get("cost_per_1k_correct_ratio"), "error": p.get("error")})
    return rows


def _curves(dashboard: dict):
    for tid, by_model in dashboard["curves"]["by_task"].items():
        for model, curve in sorted(by_model.items()):
            yield tid, model, curve


def _curve_rows(dashboard: dict, scenario: str) -> list[dict]:
    rows = []
    for tid, model, curve in _curves(dashboard):
        if curve["status"] != "ok":
            continue
        fit = curve.get("fit") or {}
        fitted = dict(zip((p["n"] for p in curve["points"]), zip(fit.get("fitted") or [], fit.get("residuals") or [])))
        against = (curve["noninferiority"].get(curve["best_api"]) or {}).get("per_point", [])
        paired = {p["n"]: p for p in against}
        costs = {c["n"]: c for c in (curve.get("costs") or {}).get("per_point", [])}
        for p in curve["points"]:
            d, c, var = paired.get(p["n"], {}), costs.get(p["n"], {}), p.get("variance") or {}
            fit_value, residual = fitted.get(p["n"], (None, None))
            rows.append({"task": tid, "model": model, "n": p["n"], "variant": p["variant"], "n_seeds": p["n_seeds"],
                         "metric": p["metric"], "ci_lo": p["ci_lo"], "ci_hi": p["ci_hi"], "fitted": fit_value,
                         "residual": residual, "var_examples": var.get("examples"), "var_seeds": var.get("seeds"),
                         "seed_sd": var.get("seed_sd"), "best_api": curve["best_api"], "diff_vs_best_api": d.get("diff"),
                         "diff_ci_lo": d.get("ci_lo"), "diff_ci_hi": d.get("ci_hi"), "noninferior": d.get("noninferior"),
                         "labelling_usd": c.get("labelling_usd"), "gpu_hours": c.get("gpu_hours"),
                         "training_once_usd": (c.get("training_once_usd") or {}).get(scenario)})
    return rows


def _verdict_rows(dashboard: dict) -> list[dict]:
    rows = []
    for tid, model, curve in _curves(dashboard):
        star, fit = curve.get("n_star") or {}, curve.get("fit") or {}
        rows.append({"task": tid, "model": model, "status": curve["status"], "best_api": curve.get("best_api"),
                     "margin": curve["margin"], "n_star": star.get("value"), "n_star_ci_lo": star.get("ci_lo"),
                     "n_star_ci_hi": star.get("ci_hi"),
                     "n_star_censored": star.get("censored") or star.get("ci_hi_censored"),
                     "fit_form": fit.get("form"), "fit_r2": fit.get("r2"), "verdict": curve["verdict"]})
    return rows


def _surface_rows(dashboard: dict) -> list[dict]:
    rows = []
    for tid, model, curve in _curves(dashboard):
        for scenario, edge in ((curve.get("surface") or {}).get("boundary") or {}).items():
            rows += [{"task": tid, "model": model, "scenario": scenario, "n": b["n"],
                      "break_even_daily_volume": b["daily_volume"], "always_cheaper_above": b["always_cheaper_above"],
                      "reason": b["reason"]} for b in edge]
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
    """Write results, break_even, comparisons, curves, verdicts and surface as CSV plus results.md (every table,
    the curves' verdicts included); returns file name -> path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario = dashboard["pricing"]["default_scenario"]
    results, breaks, comps = _result_rows(dashboard, scenario), _break_even_rows(dashboard), _comparison_rows(dashboard)
    curves, verdicts, surface = _curve_rows(dashboard, scenario), _verdict_rows(dashboard), _surface_rows(dashboard)
    markdown = (markdown_preview(dashboard, max_rows=len(results)) + "\n\n## Paired comparisons\n\n"
                + "\n\n".join(_statistics_lines(dashboard)) + "\n\n" + _md_table(comps, COMPARISON_COLUMNS)
                + "\n\n## Data-efficiency curves\n\n" + _md_table(curves, CURVE_COLUMNS) + "\n")
    files = {"results.csv": _csv_text(results, RESULT_COLUMNS),
             "break_even.csv": _csv_text(breaks, BREAK_EVEN_COLUMNS),
             "comparisons.csv": _csv_text(comps, COMPARISON_COLUMNS),
             "curves.csv": _csv_text(curves, CURVE_COLUMNS),
             "verdicts.csv": _csv_text(verdicts, VERDICT_COLUMNS),
             "surface.csv": _csv_text(surface, SURFACE_COLUMNS),
             "results.md": markdown}
    paths = {}
    for name, text in files.items():
        write_text(out_dir / name, text, newline="")
        paths[name] = out_dir / name
    return paths


def _statistics_lines(dashboard: dict) -> list[str]:
    lines = [_md_cell(dashboard["cross_task"]["rule"])]
    for tid in dashboard["task_order"]:
        stats = dashboard["tasks"][tid]["comparison_stats"]
        lines.append(f"**{_md_cell(tid)}**: {_md_cell(stats['table_rule'])} {_md_cell(stats['selection_rule'])}")
    return lines


def _verdict_lines(dashboard: dict) -> list[str]:
    return [f"- **{_md_cell(tid)} · {_md_cell(curve['display_name'])}**: {_md_cell(curve['verdict'])}"
            for tid, _, curve in _curves(dashboard)] or ["_No LoRA curve in this run._"]


PREVIEW_COLUMNS = ["variant", "status", "metric", "ci_lo", "ci_hi", "n_seeds", "seed_std", "missing_share",
                   "correct_share", "cost_per_query", "cost_per_1k_correct", "tco_12mo", "latency_p50_s", "flags"]


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
    parts.append("## Verdicts: how many labels until fine-tuning wins?\n\n" + "\n".join(_verdict_lines(dashboard)))
    return "\n\n".join(parts)
