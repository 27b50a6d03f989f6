"""Packaging: one version, pinned dependencies, an sdist whose tests run, and a wheel that
works on its own, outside this checkout (installed the way the GitHub Action installs it)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import rulesync
from tests.helpers import Project

ROOT = Path(__file__).resolve().parents[2]


def requirements() -> list[Requirement]:
    """Runtime and dev requirements, as the installed metadata declares them."""
    return [Requirement(r.split(";")[0]) for r in importlib.metadata.requires("rulesync") or []]


def runtime() -> dict[str, Requirement]:
    declared = importlib.metadata.requires("rulesync") or []
    return {Requirement(r).name.lower(): Requirement(r) for r in declared if "extra ==" not in r}


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_the_version_is_defined_once(tmp_path: Path) -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"(?m)^version\s*=", project) and 'dynamic = ["version"]' in project
    assert 'version = {attr = "rulesync.__version__"}' in text
    assert importlib.metadata.version("rulesync") == rulesync.__version__
    result = Project(tmp_path).run("--version")
    assert result.stdout == f"rulesync, version {rulesync.__version__}\n"


def test_every_dependency_is_pinned_within_its_range() -> None:
    pinned = pins()
    for requirement in requirements():
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pinned, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]}, outside {requirement}"
        )


def test_known_broken_versions_are_excluded() -> None:
    required = runtime()
    assert not required["pyyaml"].specifier.contains("6.0")
    assert not required["werkzeug"].specifier.contains("3.0.5")
    assert not required["click"].specifier.contains("8.1.8")
    assert not required["urllib3"].specifier.contains("3.0.0")
    assert "jsonpatch" in required, "saved plans are checked with jsonpatch when applied"


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=ROOT)
    return out


def test_the_wheel_carries_the_package_data(dist: Path) -> None:
    (wheel,) = dist.glob("rulesync-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "rulesync/emulator/openapi-rulesets.json" in names
    assert "rulesync/py.typed" in names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert f"Version: {rulesync.__version__}" in text
    assert "License-Expression: Apache-2.0" in text


def test_the_sdist_carries_what_the_tests_read_and_its_tests_run(
    dist: Path, tmp_path: Path
) -> None:
    (sdist,) = dist.glob("rulesync-*.tar.gz")
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12 and later
            archive.extractall(tmp_path, filter="data")
        else:
            archive.extractall(tmp_path)  # our own sdist, just built
    (unpacked,) = tmp_path.iterdir()
    for needed in (
        "LICENSE",
        "constraints.txt",
        "action.yml",
        "action/run.sh",
        "rulesync.schema.json",
        "ruleset.schema.json",
        "tests/conftest.py",
        "tests/helpers.py",
        ".github/workflows/plan.yml",
        "examples/config-repo/rulesync.yaml",
        "examples/config-repo/.github/workflows/rulesync-plan.yml",
        "rulesets/inbound-leads.yaml",
        "engine/emulator/openapi-rulesets.json",
    ):
        assert (unpacked / needed).is_file(), needed
    output = run(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "tests/unit/test_markdown.py",
        "tests/unit/test_schema.py",
        cwd=unpacked,
    )
    assert re.search(r"\d+ passed", output)


def test_the_wheel_plans_outside_the_checkout(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("rulesync-*.whl")
    venv = tmp_path / "venv"
    run(
        "bash",
        ROOT / "action" / "install.sh",
        cwd=tmp_path,
        env={
            "RULESYNC_SOURCE": str(ROOT),
            "RULESYNC_PACKAGE": str(wheel),
            "RULESYNC_VENV": str(venv),
            "RULESYNC_PYTHON": sys.executable,
        },
    )
    repo = tmp_path / "config-repo"
    shutil.copytree(
        ROOT / "examples" / "config-repo", repo, ignore=shutil.ignore_patterns(".rulesync")
    )
    bare = {"PYTHONPATH": "", "VIRTUAL_ENV": ""}
    assert run(venv / "bin" / "rulesync", "--version", cwd=repo, env=bare).strip() == (
        f"rulesync, version {rulesync.__version__}"
    )
    assert "Valid: 2 rulesets" in run(venv / "bin" / "rulesync", "validate", cwd=repo, env=bare)
    plan = run(venv / "bin" / "rulesync", "plan", cwd=repo, env=bare)
    assert "Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged." in plan
    where = run(
        venv / "bin" / "python",
        "-c",
        "import rulesync; print(rulesync.__file__)",
        cwd=repo,
        env=bare,
    )
    assert str(venv) in where, "the installed wheel, not this checkout"
