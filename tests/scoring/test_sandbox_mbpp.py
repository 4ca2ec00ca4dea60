"""Honest programs still pass: real MBPP reference solutions, judged outside the sandbox.

A sample of the standard test split (every 10th task) plus the tasks whose shape the judge treats specially:
126 (the program defines its own ``sum``), 367 and 927 (setup code builds trees of the program's class), 596
(the expected side calls ``sys.getsizeof``), 912 (the test wraps the call in ``int``).
benchmarks/score_speed.py runs all 500.
"""

import json

from baseweight_assets.scoring.sandbox import SandboxLimits, run_programs
from baseweight_assets.scoring.sandbox_judge import plan_test

SPECIAL = {126, 367, 596, 912, 927}


def test_a_sample_of_mbpp_reference_solutions_all_pass(shared_data):
    path = shared_data / "mbpp" / "raw" / "mbpp.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    sample = [r for r in rows if (11 <= r["task_id"] <= 510 and r["task_id"] % 10 == 0) or r["task_id"] in SPECIAL]
    assert len(sample) >= 50
    results = run_programs([r["code"] for r in sample], SandboxLimits(timeout_s=20, cpu_s=10), workers=2,
                           tests=[r["test_list"] for r in sample], setups=[r["test_setup_code"] for r in sample])
    failed = {r["task_id"]: (res.status, res.stderr[:200]) for r, res in zip(sample, results) if res.status != "pass"}
    assert failed == {}
    assert all(res.tests == ("pass",) * len(r["test_list"]) for r, res in zip(sample, results))
    unsealed = {r["task_id"] for r in rows if not all(plan_test(t).sealed for t in r["test_list"])}
    assert unsealed == {596}  # the one MBPP task whose expected value needs the program (docs/SECURITY.md)
