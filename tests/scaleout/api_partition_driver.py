"""Child process for test_faults: materialize ASSETS for one partition, as one Dagster run would.

Usage: python api_partition_driver.py PARTITION_KEY ASSET [ASSET ...]
(DAGSTER_HOME and BASEWEIGHT_* come from the environment; exit code 0 when the run succeeded.)
"""

import sys

import dagster as dg

from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.settings import Settings


def main(partition_key: str, assets: list[str]) -> int:
    defs = build_definitions(Settings.from_env())
    result = dg.materialize([*defs.assets, *defs.asset_checks], selection=assets, partition_key=partition_key,
                            resources=defs.resources, instance=dg.DagsterInstance.get())
    print(f"{'done' if result.success else 'FAILED'} {partition_key}", flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
