"""The pod of a step that runs generated code (scoring), as dagster-k8s user-defined config (pure, no dagster).

What it guarantees (docs/SECURITY.md, "Kubernetes"), each checked on the rendered Job in
tests/scaleout/test_k8s_sandbox_pod.py:
- no API key or Hub token in the environment: ``env_from`` is replaced by the non-secret config maps only, so
  neither the executor's ``env_secrets`` nor the run launcher's ``envSecrets`` reach this pod. Plain ``env``
  entries are kept (they carry BASEWEIGHT_ENV, the profile...; secrets belong in secrets, never there).
- no service-account token (``automount_service_account_token: false``);
- the labels the egress-denying NetworkPolicy in deployments/k8s-prereqs.yaml selects;
- a security context that lets bubblewrap create its namespaces (``SandboxStep`` says what and why), or a
  gVisor RuntimeClass.

The config is merged SHALLOW (dagster-k8s replaces each top-level key it sets instead of appending lists), the
only way a step's tags can remove ``env_from`` entries the executor and run launcher added.
"""

from __future__ import annotations

from baseweight_assets.config.deployment import KubernetesConfig, SandboxStep

PART_OF_LABELS = {"app.kubernetes.io/part-of": "baseweight-bench"}  # every step pod carries them


def _profile(kind: str, localhost: str | None) -> dict:
    return {"type": kind, "localhost_profile": localhost} if kind == "Localhost" else {"type": kind}


def sandbox_security_context(step: SandboxStep) -> dict:
    """Container security context: unprivileged and without capabilities, but free to unshare namespaces."""
    return {
        "run_as_non_root": True,
        "run_as_user": step.run_as_user,
        "run_as_group": step.run_as_user,
        "allow_privilege_escalation": False,  # bwrap is not setuid: user namespaces need no new privileges
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": _profile(step.seccomp_profile, step.seccomp_localhost_profile),
        "app_armor_profile": _profile(step.apparmor_profile, step.apparmor_localhost_profile),
        "proc_mount": "Unmasked" if step.unmasked_proc else "Default",
    }


def sandbox_step_k8s_config(k8s: KubernetesConfig) -> dict:
    """``dagster-k8s/config`` for a step that runs generated code."""
    step = k8s.sandbox_step
    container: dict = {
        "env_from": [{"config_map_ref": {"name": name}} for name in k8s.env_config_maps],
        "security_context": sandbox_security_context(step),
    }
    if step.requests or step.limits:
        container["resources"] = {"requests": dict(step.requests), "limits": dict(step.limits)}
    pod: dict = {"automount_service_account_token": False}
    if not step.host_users:
        pod["host_users"] = False
    if step.runtime_class:
        pod["runtime_class_name"] = step.runtime_class
    return {
        "container_config": container,
        "pod_spec_config": pod,
        "pod_template_spec_metadata": {"labels": {**PART_OF_LABELS, **step.labels}},
        "merge_behavior": "SHALLOW",
    }
