"""Child process for test_faults: a multi-partition data-stage backfill, one run per partition, that resumes.

Resume = Dagster's "materialize missing": partitions the instance already records as materialized are
skipped, so a restart after ``kill -9`` recomputes only what never finished.
Usage: python fault_driver.py TASK [TASK ...]   (DAGSTER_HOME and BASEWEIGHT_* come from the environment)
"""

import sys

import dagster as dg

from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.settings import Settings

ASSETS = ["raw_dataset", "prepared_splits"]


def main(tasks: list[str]) -> int:
    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.get()
    done = instance.get_materialized_partitions(dg.AssetKey(ASSETS[-1]))
    for task in tasks:
        if task in done:
            print(f"skip {task} (already materialized)", flush=True)
            continue
        result = dg.materialize([*defs.assets, *defs.asset_checks], selection=ASSETS, partition_key=task,
                                resources=defs.resources, instance=instance, tags={"test/fault_driver": "1"})
        if not result.success:
            print(f"FAILED {task}", flush=True)
            return 1
        print(f"done {task}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
