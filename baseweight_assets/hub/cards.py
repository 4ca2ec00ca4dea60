"""Model and dataset cards generated from artifact metadata (huggingface_hub's card classes write the YAML header)."""

from __future__ import annotations

import json

from huggingface_hub import DatasetCard, DatasetCardData, ModelCard, ModelCardData

from baseweight_assets.conditions import is_lora, order
from baseweight_assets.hub.layout import ADAPTERS_DIR as ADAPTERS

_PROJECT = "https://github.com/baseweight-ai/benchmark"
_CARD_KEYS = ("n_train", "epochs_run", "steps", "best_val_loss", "wall_time_s", "gpu_hours", "hardware", "backend")


def adapter_facts(metadata: dict) -> dict:
    """The training facts an adapter repo's index (and so its card) keeps of one adapter's metadata."""
    facts = {k: metadata[k] for k in _CARD_KEYS if metadata.get(k) is not None}
    if metadata.get("lora"):
        facts["lora"] = metadata["lora"]
    return facts


def adapter_card(*, repo_id: str, base_model: str, task: str, profile: str, index: dict) -> str:
    """The card of an adapter repo (one base model, one task, one profile), written from its ``index``: one row per
    training seed of each ``lora-<N>`` cell, naming the folder (``adapters/<adapter_key>``) that holds it."""
    data = ModelCardData(base_model=base_model, library_name="peft", license="other",
                         tags=["baseweight-bench", "lora", "peft", f"task:{task}"])
    cells = index.get("cells") or {}
    rows = []
    for condition in sorted(cells, key=_curve_order):
        cell = cells[condition]
        for seed in cell.get("seeds") or []:
            facts = seed.get("facts") or {}
            rows.append(f"| {condition} | {seed.get('seed')} | `{ADAPTERS}/{seed.get('adapter_key')}` | "
                        f"{facts.get('n_train', cell.get('n_train', ''))} | {facts.get('best_val_loss', '')} | "
                        f"{facts.get('steps', '')} | `{str(seed.get('adapter_sha256'))[:12]}` |")
    example = next((s.get("adapter_key") for c in cells.values() for s in c.get("seeds") or []), "<adapter_key>")
    lora = next((s["facts"]["lora"] for c in cells.values() for s in c.get("seeds") or []
                 if (s.get("facts") or {}).get("lora")), None)
    text = "\n".join([
        f"---\n{data.to_yaml()}\n---",
        f"# {repo_id}",
        "",
        f"LoRA adapters for **{base_model}** trained by [Baseweight Bench]({_PROJECT}) on the `{task}` task "
        f"(profile `{profile}`): one per training seed of each training-set size (`lora-<N>`) of the "
        "data-efficiency curve. Validation loss picked each checkpoint; the test split was never seen in training.",
        "",
        f"Each adapter lives in its own folder `{ADAPTERS}/<adapter_key>/`, named by a hash of everything it was "
        "trained from; two sizes with identical training rows share one folder.",
        "",
        "| condition | seed | folder | n_train | best_val_loss | steps | adapter_sha256 |",
        "|---|---|---|---|---|---|---|",
        *rows,
        *([f"\nLoRA: `{json.dumps(lora, sort_keys=True)}`"] if lora else []),
        "",
        "## Use",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        f"model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained({base_model!r}), {repo_id!r},",
        f"                                  subfolder={f'{ADAPTERS}/{example}'!r})",
        "```",
        "",
        "Each folder's training record: `baseweight_training.json` in it. Each cell's asset value: "
        "`baseweight/<condition>/lora_adapter.json`; what the repo holds: `baseweight/index.json`.",
    ])
    return str(ModelCard(text))


def _curve_order(condition: str) -> tuple:
    """``conditions.order`` (LoRA by size, full last); a key no condition parses (a damaged remote index) sorts
    with lora-full instead of failing the card."""
    return (order(condition), condition) if is_lora(condition) else (order("lora-full"), condition)


def artifacts_dataset_card(*, repo_id: str, profiles: list[str], assets: list[str]) -> str:
    data = DatasetCardData(license="other", tags=["baseweight-bench", "benchmark", "evaluation"],
                           pretty_name="Baseweight Bench artifacts")
    text = "\n".join([
        f"---\n{data.to_yaml()}\n---",
        f"# {repo_id}",
        "",
        f"Artifacts of [Baseweight Bench]({_PROJECT}) runs, one commit per materialized partition. "
        "Each file is the JSON value of one Dagster asset partition (contracts: `docs/ARCHITECTURE.md`).",
        "",
        "Layout: `<profile>/<asset>/<task>.json` or `<profile>/<asset>/<task>/<model>__<condition>.json`; "
        "unpartitioned assets are `<profile>/<asset>.json`.",
        "",
        f"- profiles: {', '.join(profiles)}",
        f"- assets: {', '.join(assets)}",
        "",
        "Prepared splits are derived from public datasets under their own licenses (see each task's "
        "`provenance`); check those licenses before reuse. Adapters live in model repositories, one per base "
        "model and task.",
    ])
    return str(DatasetCard(text))
