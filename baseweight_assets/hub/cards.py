"""Model and dataset cards generated from artifact metadata (huggingface_hub's card classes write the YAML header)."""

from __future__ import annotations

import json

from huggingface_hub import DatasetCard, DatasetCardData, ModelCard, ModelCardData

_PROJECT = "https://github.com/baseweight-ai/benchmark"
_CARD_KEYS = ("n_train", "n_val", "epochs_run", "steps", "best_val_loss", "wall_time_s", "gpu_hours",
              "training_cost_usd", "hardware", "backend", "input_fingerprint")


def adapter_card(*, repo_id: str, base_model: str, task: str, condition: str, profile: str, metadata: dict,
                 adapter_sha256: str | None) -> str:
    data = ModelCardData(base_model=base_model, library_name="peft", license="other",
                         tags=["baseweight-bench", "lora", "peft", f"task:{task}", f"condition:{condition}"])
    facts = {k: metadata[k] for k in _CARD_KEYS if metadata.get(k) is not None}
    lora = metadata.get("lora") or {}
    text = "\n".join([
        f"---\n{data.to_yaml()}\n---",
        f"# {repo_id}",
        "",
        f"A LoRA adapter for **{base_model}** trained by [Baseweight Bench]({_PROJECT}) on the `{task}` task "
        f"(condition `{condition}`, profile `{profile}`). Validation loss picked the checkpoint; the test split "
        "was never seen in training.",
        "",
        "## Training facts",
        "",
        "| field | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in facts.items()],
        *([f"| lora | `{json.dumps(lora, sort_keys=True)}` |"] if lora else []),
        f"| adapter_sha256 | `{adapter_sha256}` |",
        "",
        "## Use",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        f"model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained({base_model!r}), {repo_id!r})",
        "```",
        "",
        "Full training metadata: `baseweight/lora_adapter.json` in this repository.",
    ])
    return str(ModelCard(text))


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
        "`provenance`); check those licenses before reuse. Adapters live in separate model repositories.",
    ])
    return str(DatasetCard(text))
