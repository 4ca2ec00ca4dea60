"""Two GPU-pool steps in one multiprocess run (loaded by reconstructable() in test_pools.py)."""

import time

import dagster as dg


def _gpu_step(name: str):
    @dg.asset(name=name, pool="gpu")
    def _asset() -> int:
        time.sleep(2.0)
        return 1

    return _asset


def pool_job() -> dg.JobDefinition:
    defs = dg.Definitions(assets=[_gpu_step("train_a"), _gpu_step("train_b")],
                          jobs=[dg.define_asset_job("pool_job", selection=["train_a", "train_b"])],
                          executor=dg.multiprocess_executor)
    return defs.resolve_job_def("pool_job")
