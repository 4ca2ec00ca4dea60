"""Deployment builders: Kubernetes pod and container settings as plain dicts (no Dagster import)."""
