"""Dagster entry point: ``dagster dev`` / ``dagster asset materialize -m baseweight_assets.definitions``."""

from baseweight_assets.defs.definitions_factory import build_definitions
from baseweight_assets.settings import Settings

defs = build_definitions(Settings.from_env())
