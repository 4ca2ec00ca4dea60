"""A folder ``transformers serve`` loads as base + unmerged LoRA (it has no adapter flag of its own).

Layout: the base ``config.json``/``generation_config.json``, base weights symlinked, tokenizer files with
the chat template, and ``adapter_config.json`` + ``adapter_model.safetensors``. transformers' PEFT
integration sees the adapter config and applies it on load; ``base_model_name_or_path`` is pointed at the
folder itself so it resolves the symlinked weights, wherever the original adapter was trained.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from baseweight_assets.storage.atomic import replace_dir, staging_dir

_CONFIG_FILES = ("config.json", "generation_config.json")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                    "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json")
_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def make_serving_folder(base_model_dir: Path, adapter_dir: Path, out_dir: Path) -> Path:
    base_model_dir, adapter_dir, out_dir = Path(base_model_dir).resolve(), Path(adapter_dir), Path(out_dir)
    for name in ("config.json", "tokenizer_config.json"):
        if not (base_model_dir / name).is_file():
            raise FileNotFoundError(f"{base_model_dir}: base model folder has no {name}")
    for name in _ADAPTER_FILES:
        if not (adapter_dir / name).is_file():
            raise FileNotFoundError(f"{adapter_dir}: adapter folder has no {name}")
    weights = sorted(base_model_dir.glob("*.safetensors")) + sorted(base_model_dir.glob("*.safetensors.index.json"))
    if not weights:
        raise FileNotFoundError(f"{base_model_dir}: no *.safetensors weights to link")

    tmp = staging_dir(out_dir)
    try:
        for name in _CONFIG_FILES + _TOKENIZER_FILES:
            if (base_model_dir / name).is_file():
                shutil.copy2(base_model_dir / name, tmp / name)
        for path in weights:
            (tmp / path.name).symlink_to(path)
        shutil.copy2(adapter_dir / "adapter_model.safetensors", tmp / "adapter_model.safetensors")
        adapter_config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
        adapter_config["base_model_name_or_path"] = str(out_dir.resolve())
        (tmp / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2), encoding="utf-8")
        replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
