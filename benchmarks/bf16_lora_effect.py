"""Does a bf16 forward keep a LoRA adapter's effect? Why CPU inference and training stay fp32 (docs/PERFORMANCE.md,
"The in-process engine on CPU").

For one smoke cell (default FPB lora-full: the smoke profile's rows, the SmolLM2 recipe), ``train_adapter`` trains
adapters in this process: in fp32 (the CPU backend as it is) and in bf16 (the same backend with its dtype set to
bfloat16, as a CPU with native bf16 would run it), for the smoke profile's epochs and for ``--long-epochs``. Each
adapter, and the base model, is then scored on the cell's validation rows (mean cross-entropy over the assistant
tokens, one row at a time) under several forwards: fp32; bf16 weights with the adapter upcast to fp32 (PEFT's
default) or in bf16; the bf16 adapter merged; fp32 weights under bf16 autocast.

    source scripts/env.sh
    python benchmarks/bf16_lora_effect.py --cell fpb:lora-full --long-epochs 8 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402

import training_cpu  # noqa: E402
from baseweight_assets.training import trainer  # noqa: E402
from baseweight_assets.training.rendering import render_chat, render_chats  # noqa: E402

MODEL = REPO / ".cache" / "models" / "smollm2-135m"


def train(cell: dict, epochs: int, dtype: str, out: Path) -> dict:
    choose = trainer.choose_backend
    trainer.choose_backend = lambda config: dataclasses.replace(choose(config), dtype=dtype)
    try:
        config = cell["config"].model_copy(update={"early_stopping_patience": 0})
        meta = trainer.train_adapter(base_model_dir=MODEL, train_rows=cell["train_rows"], val_rows=cell["val_rows"],
                                     render_messages=cell["render_messages"], config=config, out_dir=out / "adapter",
                                     work_dir=out / "work", max_epochs=epochs, hourly_rate=0.0, hardware="cpu-2core",
                                     input_fingerprint="bf16-lora-effect", log=lambda line: None)
    finally:
        trainer.choose_backend = choose
    return {"trained_in": dtype, "epochs": epochs, "steps": meta["steps"],
            "trainer_val_loss": meta["best_val_loss"], "path": out / "adapter"}


def val_loss(model, encoded: list[tuple[list[int], list[int]]], autocast: bool = False) -> float:
    total, n = 0.0, 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        for ids, labels in encoded:
            k = sum(label != -100 for label in labels)
            total += model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.float().item() * k
            n += k
    return round(total / n, 4)


def forwards(adapter: Path | None, encoded) -> dict:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    def load(dtype, adapter_fp32=True):
        base = AutoModelForCausalLM.from_pretrained(MODEL, dtype=dtype).eval()
        if adapter is None:
            return base
        return PeftModel.from_pretrained(base, str(adapter), autocast_adapter_dtype=adapter_fp32).eval()

    out = {"fp32": val_loss(load(torch.float32), encoded),
           "bf16 weights": val_loss(load(torch.bfloat16), encoded),
           "fp32 weights, bf16 autocast": val_loss(load(torch.float32), encoded, autocast=True)}
    if adapter is not None:
        out["bf16 weights, bf16 adapter"] = val_loss(load(torch.bfloat16, adapter_fp32=False), encoded)
        out["bf16 weights, bf16 adapter merged"] = val_loss(
            load(torch.bfloat16, adapter_fp32=False).merge_and_unload(), encoded)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cell", default="fpb:lora-full")
    ap.add_argument("--long-epochs", type=int, default=8)
    ap.add_argument("--out", default=str(REPO / ".cache" / "bench"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    task, condition = a.cell.split(":")
    cell = training_cpu.smoke_cell(task, condition)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    encoded = [render_chat(tokenizer, chat) for chat in render_chats(cell["val_rows"], cell["render_messages"])]
    report = {"command": " ".join(["python benchmarks/bf16_lora_effect.py", *sys.argv[1:]]),
              "machine": f"{platform.machine()}, torch {torch.__version__}, OMP_NUM_THREADS=1", "cell": a.cell,
              "val_rows": len(encoded), "base": forwards(None, encoded), "adapters": []}
    print(json.dumps(report["base"]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for epochs, dtype in [(cell["max_epochs"], "float32"), (cell["max_epochs"], "bfloat16"),
                              (a.long_epochs, "float32")]:
            run = train(cell, epochs, dtype, Path(tmp) / f"{dtype}-{epochs}")
            run["val_loss"] = forwards(run.pop("path"), encoded)
            report["adapters"].append(run)
            print(json.dumps(run), flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bf16_lora_effect.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"written: {out / 'bf16_lora_effect.json'}")


if __name__ == "__main__":
    main()
