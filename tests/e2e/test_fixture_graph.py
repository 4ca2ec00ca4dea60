"""The whole graph, every stage and every task kind, on the committed fixtures with a tiny random model and the
fake API endpoint (tests/e2e/fixture_graph.py): runs on every pytest run, needs neither ../shared nor a real model."""

from __future__ import annotations

import json

import dagster as dg

from baseweight_assets.pipeline.stages import STAGES
from baseweight_assets.report.dashboard import validate_dashboard
from tests.e2e.fixture_graph import MODELS, graph, materialize_plan, short_curve
from tests.fixtures.fixture_configs import fixture_configs

ONE_TASK_PER_KIND = ("banking77", "medmcqa", "cuad", "mbpp")


def test_every_stage_and_every_kind_on_the_fixtures(tmp_path, tiny_model):
    configs = fixture_configs(tmp_path / "cfg")
    short_curve(configs, [4, "full"], training_seeds=2)  # several seeds, as the full profile trains
    settings, defs, resources = graph(tmp_path / "out", tiny_model, configs)
    instance = dg.DagsterInstance.ephemeral()
    runs = materialize_plan(defs, resources, instance, ONE_TASK_PER_KIND)
    materialized = {a for assets, _ in runs for a in assets}
    assert materialized == {s.key for s in STAGES if s.materialized}  # every stage of the registry ran

    paths = settings.paths
    dashboard = json.loads(paths.dashboard_json.read_text())
    validate_dashboard(dashboard)
    assert sorted(dashboard["tasks"]) == sorted(ONE_TASK_PER_KIND)
    for task in ONE_TASK_PER_KIND:
        cells = dashboard["tasks"][task]["cells"]
        kind = dashboard["tasks"][task]["task_type"]
        assert cells["gpt-5.4-nano__zero-shot"]["status"] in ("ok", "incomplete"), (task, kind)
        scored = [c for c in cells.values() if c["status"] == "ok"]
        assert scored, f"{task} ({kind}): no scored cell"
        assert all(0.0 <= c["metric"]["value"] <= 1.0 for c in scored if c["metric"]["value"] is not None)
    lora = json.loads((paths.results / "lora_adapter" / "banking77" / "smollm2-135m__lora-4.json").read_text())
    assert lora["status"] == "ok" and lora["adapters"][0]["metadata"]["n_train"] == 4
    assert [a["seed"] for a in lora["adapters"]] == [42, 43]
    preds = json.loads((paths.results / "local_predictions" / "banking77" / "smollm2-135m__lora-4.json").read_text())
    assert len(preds["per_seed_runs"]) == 2 and all(r["hardware"] for r in preds["per_seed_runs"])
    scores = json.loads((paths.results / "local_scores" / "banking77" / "smollm2-135m__lora-4.json").read_text())
    assert scores["n_training_seeds"] == 2 and len(scores["per_seed"]) == 2
    assert dashboard["curves"]["by_task"]["banking77"]  # the data-efficiency curve reached the dashboard
    assert (paths.site / "index.html").is_file()

    # a second plan on the same instance has nothing left to do
    assert materialize_plan(defs, resources, instance, ONE_TASK_PER_KIND) == []


def test_a_project_with_a_single_task_builds_its_dashboard(tmp_path, tiny_model):
    """Every fan-in gets a mapping with one upstream partition as with many (dashboard_data broke here once)."""
    configs = fixture_configs(tmp_path / "cfg")
    for path in (configs / "tasks").glob("*.yaml"):
        if path.stem != "fpb":
            path.unlink()
    for path in (configs / "models").glob("*.yaml"):
        if path.stem not in MODELS:
            path.unlink()
    short_curve(configs, ["full"])
    settings, defs, resources = graph(tmp_path / "out", tiny_model, configs)
    materialize_plan(defs, resources, dg.DagsterInstance.ephemeral(), ("fpb",))
    dashboard = json.loads(settings.paths.dashboard_json.read_text())
    assert list(dashboard["tasks"]) == ["fpb"] and dashboard["task_order"] == ["fpb"]
