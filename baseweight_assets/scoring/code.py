"""MBPP scoring: extract the program, run it in the sandbox, judge its tests outside the sandbox, aggregate.

Each prediction row's program (``parsing.extract_code``) goes to ``sandbox.run_programs`` with the question's
``test_setup_code`` and ``test_list``. Each assert is split (``sandbox_judge.plan_test``) into probes, the
sub-expressions that need the program; only those enter the sandbox, where ``sandbox_runner`` runs the program,
then the setup code, then evaluates each test's probes in ``test_list`` order and sends their values back as plain
data. This process judges every assert with those values against expected values the program never sees, so a
program cannot forge a pass (exits, printed tokens, patched builtins). Rows of failed requests are not run (their
questions are missing, ``scoring.score``). A question's ``correct`` is the share of its samples that pass -- with one
greedy sample that is pass@1 in {0, 1}; with n samples it is the unbiased pass@1 estimate. The category of a
multi-sample question is its first sample's. ``execute_rows`` also returns the scores' sandbox record: the isolation
backend, the memory bound of one program's process tree and how many tests the judge cannot seal.
"""

from __future__ import annotations

from baseweight_assets.scoring.parsing import extract_code
from baseweight_assets.scoring.passk import pass_at_k
from baseweight_assets.scoring.sandbox import SandboxLimits, isolation_backend, memory_bound_mb, run_programs
from baseweight_assets.scoring.sandbox_judge import plan_test


def check_gold(gold: object, where: str) -> dict:
    if not isinstance(gold, dict) or not isinstance(gold.get("test_list"), list) or not all(
        isinstance(t, str) for t in gold["test_list"]
    ):
        raise ValueError(f"{where}: code gold must be {{'test_list': [str, ...], 'test_setup_code': str}}")
    setup = gold.get("test_setup_code") or ""
    if not isinstance(setup, str):
        raise ValueError(f"{where}: test_setup_code must be a string")
    return {"test_list": gold["test_list"], "test_setup_code": setup}


def execute_rows(rows: list[dict], golds: list[dict], limits: SandboxLimits, workers: int | None, *,
                 allow_unsandboxed: bool = False) -> tuple[list[str], dict]:
    """(sandbox status, or "missing", for each row in order; the sandbox record the scores carry: which isolation
    ran the programs, the memory bound of one program's whole process tree, and how many tests compare against a
    value the program itself computes, which the judge cannot seal). Failed requests are not executed."""
    todo = [i for i, r in enumerate(rows) if r.get("error") is None]
    results = run_programs(
        [extract_code(rows[i].get("output") or "") for i in todo], limits, workers,
        tests=[golds[i]["test_list"] for i in todo], setups=[golds[i]["test_setup_code"] for i in todo],
        allow_unsandboxed=allow_unsandboxed,
    )
    statuses = ["missing"] * len(rows)
    for i, res in zip(todo, results):
        statuses[i] = res.status
    backend = results[0].backend if results and results[0].backend else isolation_backend(allow_unsandboxed)
    unsealed = sum(not plan_test(t).sealed for g in golds for t in g["test_list"])
    return statuses, {"backend": backend, "memory_bound_mb": memory_bound_mb(limits, backend),
                      "unsealed_tests": unsealed, "programs_run": len(todo)}


def pass_at_ks(samples: dict[str, list[str]], ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Mean unbiased pass@k over questions, for every k that all questions have enough samples for."""
    if not samples:
        return {}
    n_min = min(len(s) for s in samples.values())
    out = {}
    for k in ks:
        if k <= n_min:
            vals = [pass_at_k(len(s), sum(x == "pass" for x in s), k) for s in samples.values()]
            out[f"pass_at_{k}"] = sum(vals) / len(vals)
    return out
