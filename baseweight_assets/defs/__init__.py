"""Dagster wiring only: partitions, assets, checks, resources, IO managers, executors.

Every asset body here reads config and resources, calls one pure function from the package, and
returns a JSON-able value plus metadata.
"""
