"""Reproducible installs: every Python package pinned with hashes, installed with pip only."""

from __future__ import annotations

import re
import tomllib

from deploy import stack

ROOT = stack.ROOT


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M))
    # Every requirement line carries at least one sha256 hash.
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 2)[-1])
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry), name
    return {re.sub(r"[-_.]+", "-", key).lower(): value for key, value in pins.items()}


def _names(requirements: list[str]) -> set[str]:
    return {
        re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]).lower()
        for r in requirements
    }


def test_both_locks_pin_what_pyproject_asks_for():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert _names(project["dependencies"] + extras["dkim"]) | {"setuptools"} <= set(runtime)
    assert _names(extras["test"]) <= set(dev)
    assert "pytest" not in runtime  # the image carries no test tools
    # The same version of every package in both.
    assert {name: dev[name] for name in runtime} == runtime


def test_installs_come_from_the_locks_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)" in makefile
    assert re.search(r"^\$\(STAMP\): pyproject.toml \$\(DEV_LOCK\)", makefile, re.M)
    assert re.search(r"^run: \$\(STAMP\)", makefile, re.M)
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.M)
    assert "--generate-hashes" in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert re.search(r"pip install --no-deps --no-build-isolation \.", dockerfile)
