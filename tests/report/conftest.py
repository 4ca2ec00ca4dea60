"""Session fixtures for the report tests; the data builders live in report_fixtures.py."""

import pytest

from report_fixtures import build_demo_dashboard, load_bench

from baseweight_assets.config.loader import BenchConfig

@pytest.fixture(scope="session")
def bench() -> BenchConfig:
    return load_bench()


@pytest.fixture(scope="session")
def dashboard(bench) -> dict:
    return build_demo_dashboard(bench)
