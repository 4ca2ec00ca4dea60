"""Every value passed between assets has a typed record (pipeline/records.py), named by its stage, and the IO
manager refuses a value that does not match it, naming the asset, the partition and the field's JSON path."""

from __future__ import annotations

import copy

import dagster as dg
import pytest

from baseweight_assets.defs.assets.common import skipped
from baseweight_assets.defs.io_managers import JsonArtifactIOManagerFactory
from baseweight_assets.pipeline import records
from baseweight_assets.pipeline.records import RecordError, check_record, json_path, record_type
from baseweight_assets.pipeline.stages import STAGES, stage

CELL = "fpb|smollm2-135m__zero-shot"


def _scores() -> dict:
    """A scored cell as ``score_cell`` writes it (every required key, one scored question)."""
    completeness = {"n_sampled": 1, "n_scored": 1, "n_missing": 0, "missing_share": 0.0, "threshold": 0.02,
                    "complete": True, "missing_examples": []}
    run = {"served_by": "engine", "stand_in": False, "calls_made": 1, "cache_hits": 0, "spend_usd": 0.0,
           "errors": 0, "hardware": "cpu-2core", "wall_s": 0.5, "latency_n": 1, "total_input_tokens": 10,
           "total_cached_input_tokens": 0, "total_output_tokens": 2, "n_requests": 1}
    return {
        "status": "ok", "reason": None, "task": "fpb", "variant": "smollm2-135m__zero-shot", "model": "smollm2-135m",
        "condition": "zero-shot", "metric_id": "weighted_f1", "metric": 1.0, "ci_lo": 1.0, "ci_hi": 1.0, "n": 1,
        "n_clusters": 1, "seed_values": [1.0], "seed_mean": 1.0, "seed_std": None, "seed_note": "one sample",
        "secondary": {"accuracy": 1.0, "ci": {}}, "error_counts": {"missing": 0, "correct": 1},
        "per_example": [{"question_id": "fpb-1", "correct": 1, "category": "correct", "parsed": "positive",
                         "cluster": "fpb-1", "gold": "positive"}],
        "notes": [], "completeness": completeness, "run": run, "samples": [], "sandbox": None,
        "provenance": {"source": "offline", "dataset": "fpb", "revision": None, "partial": None, "files": {}},
        "profile": "smoke", "prompt_hash": "p", "few_shot_hash": "",
    }


def test_every_materialized_stage_names_a_record_and_observed_ones_none():
    for s in STAGES:
        if s.observed:
            assert s.record is None, s.key
        else:
            assert s.record is not None, f"stage {s.key!r} names no record"
            record_type(s.record)  # resolves in records.py
    assert stage("local_scores").record == stage("api_scores").record == "Scores"


def test_the_brief_records_exist():
    names = set(records.records())
    assert {"RawDataset", "PreparedSplits", "AdapterRecord", "LoraAdapter", "PredictionRow", "Predictions",
            "Scores", "TaskSummary", "Skipped"} <= names
    with pytest.raises(KeyError, match="no record 'RecordError'"):
        record_type("RecordError")


def test_a_scored_and_a_skipped_cell_match_scores():
    check_record("Scores", _scores(), "local_scores[x]")
    check_record("Scores", skipped("predictions were skipped", task="fpb", variant="v", model="m", condition="c"),
                 "local_scores[x]")
    check_record("Predictions", skipped("no adapter was trained for this cell", task="fpb", variant="v"), "x")


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda v: v["completeness"].update(missing_share="n/a"),
     "$.completeness.missing_share: Input should be a valid number"),
    (lambda v: v["per_example"][0].pop("category"), "$.per_example[0].category: Field required"),
    (lambda v: v.update(metric=True), "$.metric: Input should be a valid number"),  # strict: a bool is no number
    (lambda v: v.update(notes=("a",)), "$.notes: Input should be a valid list"),  # strict: JSON has no tuples
    (lambda v: v.update(status="done"), "$.status: Input should be 'ok' or 'skipped'"),
    (lambda v: v.update(status="skipped"), "$.reason: Input should be a valid string"),  # checked as Skipped
])
def test_a_wrong_value_names_the_field_path(mutate, expected):
    value = _scores()
    mutate(value)
    with pytest.raises(RecordError) as err:
        check_record("Scores", value, f"local_scores[{CELL}]")
    assert str(err.value).splitlines()[0] == f"local_scores[{CELL}]: {expected}"


def test_many_issues_are_listed_up_to_a_limit():
    value = _scores()
    value["per_example"] = [{"question_id": i} for i in range(10)]  # 10 wrong ids, 40 missing keys
    with pytest.raises(RecordError) as err:
        check_record("Scores", value, "s")
    lines = str(err.value).splitlines()
    assert lines[0] == "s: $.per_example[0].question_id: Input should be a valid string"
    assert len(err.value.issues) == records.MAX_ISSUES
    assert lines[records.MAX_ISSUES] == f"s: ... and {50 - records.MAX_ISSUES} more"


def test_json_path():
    assert json_path(("rows", 3, "latency_s")) == "$.rows[3].latency_s"
    assert json_path(("cells", "gpt-5.4-nano__zero-shot", "metric")) == "$.cells['gpt-5.4-nano__zero-shot'].metric"
    assert json_path(()) == "$"


# ------------------------------------------------------------------------------ through the IO manager

_CELLS = dg.MultiPartitionsDefinition({"task": dg.StaticPartitionsDefinition(["fpb"]),
                                       "variant": dg.StaticPartitionsDefinition(["smollm2-135m__zero-shot"])})


def _materialize(tmp_path, value: dict, group: str):
    @dg.asset(name="local_scores", partitions_def=_CELLS, group_name=group)
    def local_scores() -> dict:
        return copy.deepcopy(value)

    return dg.materialize([local_scores], partition_key=CELL, raise_on_error=False,
                          resources={"io_manager": JsonArtifactIOManagerFactory(base_path=str(tmp_path))})


def test_the_io_manager_writes_a_matching_value(tmp_path):
    assert _materialize(tmp_path, _scores(), "scoring").success
    assert (tmp_path / "local_scores" / "fpb" / "smollm2-135m__zero-shot.json").is_file()


def test_the_io_manager_refuses_a_wrong_value_and_writes_nothing(tmp_path):
    value = _scores()
    value["completeness"]["missing_share"] = "n/a"
    result = _materialize(tmp_path, value, "scoring")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data
    message = f"local_scores[{CELL}]: $.completeness.missing_share: Input should be a valid number"
    assert message in failure.user_failure_data.description
    assert failure.user_failure_data.metadata["record"].value == "Scores"
    assert not (tmp_path / "local_scores").exists()


def test_an_asset_outside_the_registry_is_not_checked(tmp_path):
    """Same key, another group: a test double, not the registry's local_scores."""
    assert stage("local_scores").group == "scoring"
    assert _materialize(tmp_path, {"anything": 1}, "default").success


def test_the_graph_checks_each_value_against_its_stage_record(tmp_path, monkeypatch):
    """The registry's own assets, built by the factory, go through the check (data stages of the fixture graph)."""
    from baseweight_assets.defs import io_managers
    from tests.e2e.fixture_graph import graph
    from tests.fixtures.fixture_configs import fixture_configs

    checked = []

    def recording(name, value, label):
        checked.append((name, label))
        check_record(name, value, label)

    monkeypatch.setattr(io_managers, "check_record", recording)
    _, defs, resources = graph(tmp_path / "out", tmp_path / "no-model", fixture_configs(tmp_path / "cfg"))
    result = dg.materialize([*defs.assets, *defs.asset_checks], selection=["raw_dataset", "prepared_splits"],
                            partition_key="fpb", resources=resources, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert checked == [("RawDataset", "raw_dataset[fpb]"), ("PreparedSplits", "prepared_splits[fpb]")]
