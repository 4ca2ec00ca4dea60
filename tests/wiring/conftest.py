import pytest

from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.defs.settings import Settings


@pytest.fixture(scope="session")
def defs(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    settings = Settings.from_env({"BASEWEIGHT_PROFILE": "smoke"})
    return build_definitions(settings)
