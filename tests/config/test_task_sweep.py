"""Every configs/tasks/*.yaml, swept against the tiny fixture of its kind (tests/fixtures/data): the configs load,
the raw rows load with the expected counts, preparation runs at smoke sizes, a prompt renders (zero- and few-shot),
requests are built (constrained to the labels where the kind's outputs are closed), and each test row's gold target,
given back as the model's output, parses to the gold answer and scores the perfect metric. A task added as files
only (YAML + prompt + data of an existing kind) goes through the same sweep with no code change."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from baseweight_assets.conditions import FIVE_SHOT, ZERO_SHOT
from baseweight_assets.config import load_bench_config
from baseweight_assets.data import checks
from baseweight_assets.data.prepare import prepare_task
from baseweight_assets.data.raw import load_raw
from baseweight_assets.inference.endpoint import fake_endpoint, openai_endpoint
from baseweight_assets.inference.requests import build_requests
from baseweight_assets.prompting import PromptTemplate
from baseweight_assets.scoring.categories import SUCCESS
from baseweight_assets.scoring.score import score_predictions
from baseweight_assets.tasks import kind_of
from tests.fixtures.fixture_configs import FIXTURE_DATA, REPO, fixture_configs

TASK_IDS = sorted(p.stem for p in (REPO / "configs" / "tasks").glob("*.yaml"))
PROFILE = "smoke"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return load_bench_config(fixture_configs(tmp_path_factory.mktemp("sweep")))


def sweep(bench, task_id: str, data_root: Path) -> dict:
    """Run one task through every step on its fixture; assert what each step promises; return what it made."""
    profile = bench.profile(PROFILE)
    task = profile.apply_to_task(bench.tasks[task_id])
    kind = kind_of(task)

    raw = load_raw(task, data_root)
    assert raw["counts"] == task.source.offline.expected_rows
    assert checks.check_raw_row_counts(task, raw).passed

    labels = raw.get("labels") or task.labels
    prompt = PromptTemplate.load(bench.prompts_dir, task, labels)
    n_seeds = profile.n_eval_seeds or bench.run.n_eval_seeds
    prepared = prepare_task(task, raw, prompt, n_eval_seeds=n_seeds, rows_per_split=profile.rows_per_split,
                            lora_sizes=bench.lora_sizes(task_id, PROFILE))
    pool = prepared["splits"]["test_pool"]
    assert pool and len(prepared["test_seeds"]) == n_seeds
    assert checks.check_no_train_test_overlap(prepared).passed

    messages = prompt.render_messages(pool[0])
    assert [m["role"] for m in messages] == ["system", "user"] and all(m["content"].strip() for m in messages)
    shots = prepared["splits"]["few_shot"]
    if shots:
        few = prompt.render_messages(pool[0], shots)
        assert len(few) == 2 + 2 * len(shots) and few[2]["content"] == shots[0]["target"]

    allowed = kind.allowed_outputs(task, prepared["labels"] or task.labels)
    local, api = bench.models["smollm2-135m"], bench.models["gpt-5.4-nano"]
    conditions = [ZERO_SHOT] + ([FIVE_SHOT] if shots else [])
    for condition in conditions:
        for endpoint in (fake_endpoint(local), openai_endpoint(api)):
            requests = build_requests(task, prepared, prompt, local, condition, max_tokens=16, constrained=True,
                                      endpoint=endpoint)
            assert [r.example_id for r in requests] == [ex["id"] for ex in pool]
            if allowed is None:
                assert all(r.guided_choice is None and r.response_format is None for r in requests)
            elif endpoint.supports_guided_choice:
                assert all(r.guided_choice == allowed for r in requests)
            else:
                enum = requests[0].response_format["json_schema"]["schema"]["properties"]["label"]["enum"]
                assert enum == allowed and all(r.guided_choice is None for r in requests)

    parse = kind.parser(prepared["labels"] or task.labels)
    if kind.uses_labels:
        assert all(parse(ex["target"]) == ex["gold"] for ex in pool)
    rows = [{"id": ex["id"], "question_id": ex["question_id"], "output": ex["target"], "error": None,
             "finish_reason": "stop", "avg_logprob": -0.1} for ex in pool]
    scores = score_predictions(task, prepared, rows, labels=prepared["labels"], n_bootstrap=100,
                               sandbox=task.sandbox.limits(profile.sandbox_timeout_s), workers=2)
    assert scores["metric"] == 1.0 and (scores["ci_lo"], scores["ci_hi"]) == (1.0, 1.0), scores["per_example"]
    assert scores["completeness"]["complete"] and scores["n"] == len({ex["question_id"] for ex in pool})
    assert {c for c, n in scores["error_counts"].items() if n} <= SUCCESS
    return {"task": task, "prepared": prepared, "scores": scores}


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_every_task_config_sweeps_through_its_fixture(bench, task_id):
    sweep(bench, task_id, FIXTURE_DATA)


def test_the_sweep_covers_every_kind(bench):
    assert {t.task_type for t in bench.tasks.values()} == {"classification", "multiple_choice", "extraction", "code"}


NEW_TASK = {
    "id": "ticket-triage",
    "name": "Support ticket triage (a task the code has never seen)",
    "task_type": "classification",
    "metric": "macro_f1",
    "source": {"offline": {
        "loader": "jsonl", "dir": "ticket-triage/raw", "files": {"all": "tickets.jsonl"},
        "text_field": "body", "label_field": "queue", "expected_rows": {"all": 36},
        # one raw split: a seeded, stratified quarter is the test pool, the rest the train pool
        "pools": {"test": {"split": "all", "fraction": 0.25, "min_per_group": 1}, "train": {"split": "all"}}}},
    "max_output_tokens": 8,
    "sampling": {"seed": 5, "val_size": 4, "train": {"total_cap": 20, "min_per_group": 1},
                 "test": {"total_cap": 9, "min_per_group": 1}},
    "n_shots": 3,
    "training_overrides": {"learning_rate": 1.0e-4},
}
QUEUES = {"billing": "I was charged twice for invoice {n} and need the extra payment returned",
          "outage": "The dashboard for site {n} has been down since this morning with a gateway error",
          "access": "User {n} cannot sign in after the password reset link expired"}


def test_a_task_added_as_files_only_sweeps_through(tmp_path):
    configs = fixture_configs(tmp_path)
    (configs / "tasks" / "ticket-triage.yaml").write_text(yaml.safe_dump(NEW_TASK, sort_keys=False))
    prompt = configs.parent / "prompts" / "ticket-triage"
    prompt.mkdir()
    (prompt / "system.j2").write_text("Route the support ticket to one queue: {{ labels | join(', ') }}. "
                                      "Answer with the queue name only.")
    (prompt / "user.j2").write_text("Ticket: {{ text }}")
    data = tmp_path / "data"
    shutil.copytree(FIXTURE_DATA, data)
    raw = data / "ticket-triage" / "raw"
    raw.mkdir(parents=True)
    lines = [json.dumps({"body": text.format(n=100 + 13 * i), "queue": queue})
             for i in range(12) for queue, text in QUEUES.items()]
    raw.joinpath("tickets.jsonl").write_text("\n".join(lines) + "\n")

    bench = load_bench_config(configs)
    out = sweep(bench, "ticket-triage", data)
    assert out["prepared"]["labels"] == ["access", "billing", "outage"]
    assert out["prepared"]["report"]["pool_rules"]["test"] == "seeded 25% of 'all', stratified by group: 9 rows"
    assert bench.training_for("smollm2-135m", "ticket-triage").learning_rate == 1.0e-4
