import pytest

from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.settings import Settings


@pytest.fixture(scope="session")
def defs():
    return build_definitions(Settings.from_env({"BASEWEIGHT_PROFILE": "smoke"}))
