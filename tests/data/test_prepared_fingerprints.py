"""The six real tasks prepare to exactly the rows they prepared to before task kinds and pool rules replaced the
per-dataset code (fingerprints recorded at the commit named in prepared_fingerprints.json, smoke and full)."""

import json
from pathlib import Path

import pytest

from baseweight_assets.config import load_bench_config
from baseweight_assets.data.prepare import prepare_task
from baseweight_assets.data.raw import load_raw
from baseweight_assets.paths import REPO_ROOT
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.settings import Settings
from baseweight_assets.storage.hashing import stable_hash

DATA = Settings.from_env().data_root
if not DATA.is_dir():
    pytest.skip("real data not present", allow_module_level=True)

RECORDED = json.loads((Path(__file__).parent / "prepared_fingerprints.json").read_text())
CFG = load_bench_config(REPO_ROOT / "configs")
_raw: dict = {}


def prepared_fingerprint(task_id: str, profile: str) -> str:
    """stable_hash of the prepared value's rows (every key but report and provenance) as the graph prepares them."""
    if task_id not in _raw:
        _raw[task_id] = load_raw(CFG.tasks[task_id], DATA)
    prof = CFG.profile(profile)
    task = prof.apply_to_task(CFG.tasks[task_id])
    raw = _raw[task_id]
    prompt = PromptTemplate.load(CFG.prompts_dir, task, raw.get("labels") or task.labels)
    prepared = prepare_task(task, raw, prompt, n_eval_seeds=prof.n_eval_seeds or CFG.run.n_eval_seeds,
                            rows_per_split=prof.rows_per_split, lora_sizes=CFG.lora_sizes(task_id, profile))
    return stable_hash({k: prepared[k] for k in RECORDED["keys"]})


CASES = [pytest.param(*key.split("/"), marks=[pytest.mark.slow] if key.endswith("/full") else [], id=key)
         for key in sorted(RECORDED["fingerprints"])]


@pytest.mark.parametrize("task_id,profile", CASES)
def test_prepared_rows_unchanged(task_id, profile):
    assert prepared_fingerprint(task_id, profile) == RECORDED["fingerprints"][f"{task_id}/{profile}"]
