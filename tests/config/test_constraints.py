"""Each environment's constraints file is an exact, consistent lock of pyproject.toml's ranges: every requirement
of the environment is pinned there to a version its range allows (so the file cannot drift from the project), and
the Dagster family is one release in both. That pip resolves the GPU set is CI's job (.ci/run, --dry-run)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
ENVIRONMENTS = {"cpu": ["test"], "gpu": ["gpu", "test"]}


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints" / f"{name}.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            package, _, version = line.partition("==")
            assert version, f"constraints/{name}.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(package)] = version
    return pins


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_every_requirement_is_pinned_inside_its_range(env):
    pins = _pins(env)
    requirements = PROJECT["dependencies"] + [r for extra in ENVIRONMENTS[env]
                                              for r in PROJECT["optional-dependencies"][extra]]
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints/{env}.txt does not pin {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"constraints/{env}.txt pins {req.name}=={pins[name]}, outside pyproject's {req.specifier}"


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_the_dagster_family_is_one_release(env):
    pins = _pins(env)
    core = {v for k, v in pins.items() if k.startswith("dagster") and k != "dagster-k8s"}
    assert len(core) == 1, f"constraints/{env}.txt: dagster packages at {core}"
    major, minor, patch = next(iter(core)).split(".")
    assert pins["dagster-k8s"] == f"0.{int(minor) + 16}.{patch}"  # integrations: 1.13.27 <-> 0.29.27
