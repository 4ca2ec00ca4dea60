"""Command-line entry points. They sit outside the Dagster wiring (``defs/``) and build definitions through
``defs.definitions_factory``, like the code location does."""
