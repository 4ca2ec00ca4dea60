"""A revoked API key through the whole graph: the API cells of the fixture graph call the local fault server (an
OpenAI-compatible endpoint that answers HTTP 401 invalid_api_key to any other key) as the real API would. Every
request fails, so every row is missing, not wrong: the cell is incomplete, its completeness check fails, and no
metric of it reaches the dashboard's headline (cells, comparisons, cross-task summary)."""

from __future__ import annotations

import json

import dagster as dg
import yaml

from tests.e2e.fixture_graph import MODELS, graph, materialize_plan, short_curve
from tests.fixtures.fixture_configs import fixture_configs
from tests.inference.fault_server import FaultServer

API = "gpt-5.4-nano"


def _point_api_at(configs, base_url: str) -> None:
    path = configs / "models" / f"{API}.yaml"
    model = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**model, "base_url": base_url}))


def test_a_revoked_key_never_scores_as_an_answer(tmp_path, tiny_model, monkeypatch):
    configs = fixture_configs(tmp_path / "cfg")
    short_curve(configs, ["full"])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-revoked")  # the endpoint reads the key at call time
    with FaultServer(api_key="sk-the-valid-one") as server:
        _point_api_at(configs, server.base_url)
        settings, defs, resources = graph(tmp_path / "out", tiny_model, configs,
                                          {"BASEWEIGHT_API": "auto", "OPENAI_API_KEY": "sk-revoked"})
        assert settings.api_is_live("OPENAI_API_KEY")
        instance = dg.DagsterInstance.ephemeral()
        materialize_plan(defs, resources, instance, ("fpb",), MODELS)
        assert server.state.auth_headers == {"Bearer sk-revoked"} and server.state.completions == 0

    paths = settings.paths
    for condition in ("zero-shot", "5-shot"):
        variant = f"{API}__{condition}"
        scores = json.loads((paths.results / "api_scores" / "fpb" / f"{variant}.json").read_text())
        assert scores["metric"] is None and scores["completeness"]["missing_share"] == 1.0
        assert not scores["completeness"]["complete"]
        assert "401" in scores["completeness"]["missing_examples"][0]["error"]

    check = dg.AssetCheckKey(dg.AssetKey("api_predictions"), "api_predictions_complete")
    records = instance.event_log_storage.get_asset_check_execution_history(check, limit=10)
    evaluations = [r.event.asset_check_evaluation for r in records if r.event and r.event.asset_check_evaluation]
    assert len(evaluations) == 2 and not any(e.passed for e in evaluations)

    dashboard = json.loads(paths.dashboard_json.read_text())
    task = dashboard["tasks"]["fpb"]
    for condition in ("zero-shot", "5-shot"):
        cell = task["cells"][f"{API}__{condition}"]
        assert cell["status"] == "incomplete" and cell["metric"]["value"] is None, cell
        assert cell["completeness"]["missing_share"] == 1.0 and "401" in cell["reason"]
    assert not [c for c in task["comparisons"] if API in (c["a"], c["b"])]
    row = next(r for r in dashboard["cross_task"]["rows"] if r["task"] == "fpb")
    assert row["best_api"] is None and row["best_api_metric"] is None and row["lora_minus_api"] is None
    assert sorted(row["incomplete"]) == [f"{API}__5-shot", f"{API}__zero-shot"]
    assert all(c["best_api"] is None for c in row["verdicts"])
