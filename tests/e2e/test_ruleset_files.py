"""Nothing skipped, nothing silent: every *.yaml/*.yml (any case) is read, through symlinked
folders; what cannot be read is an error, never a skip that prune would turn into a delete."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Org, Project, api_project


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def planned_names(project: Project, *args: str) -> list[str]:
    result = project.run("plan", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return [c["name"] for c in json.loads(result.stdout)["changes"]]


def test_any_letter_case_of_the_suffix_is_read(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.write("rulesets/a.YAML", "name: Upper\n")
    project.write("rulesets/b.Yml", "name: Mixed\n")
    project.write("rulesets/c.yaml", "name: Lower\n")
    project.write("rulesets/notes.txt", "name: Not a ruleset\n")
    assert sorted(planned_names(project)) == ["Lower", "Mixed", "Upper"]


def test_symlinked_folders_are_read_and_a_loop_ends(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    shared = project.root / "shared"
    project.write("shared/team.yaml", "name: Shared team\n")
    project.write("rulesets/own.yaml", "name: Own\n")
    (project.root / "rulesets" / "linked").symlink_to(shared, target_is_directory=True)
    (project.root / "shared" / "loop").symlink_to(project.root / "rulesets")
    assert sorted(planned_names(project)) == ["Own", "Shared team"]


def test_a_broken_link_is_an_error_and_nothing_is_pruned(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Team A")
    org.create("Team B")
    project.write("rulesets/a.yaml", "name: Team A\n")
    (project.root / "rulesets" / "b.yaml").symlink_to(project.root / "gone.yaml")
    result = project.run("apply", "--yes", "--prune", "--force")
    assert result.exit_code == 1
    assert "rulesets/b.yaml: cannot read (No such file or directory)" in result.output
    assert org.names() == ["Team A", "Team B"]


def test_a_folder_that_cannot_be_read_is_an_error(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.write("rulesets/a.yaml", "name: Team A\n")
    (project.root / "rulesets" / "team").symlink_to(project.root / "unmounted")
    result = project.run("validate")
    assert result.exit_code == 1
    assert "rulesets/team: cannot read (No such file or directory)" in result.output


def test_a_fifo_named_like_a_ruleset_is_an_error_not_a_hang(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.write("rulesets/a.yaml", "name: Team A\n")
    os.mkfifo(project.root / "rulesets" / "pipe.yaml")
    result = project.run("validate")
    assert result.exit_code == 1
    assert "rulesets/pipe.yaml: not a regular file" in result.output


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: x\nclicksNeededBeforeCallTaskCreated: !!int #\n", "rulesets/t.yaml:2:"),
        ("name: x\nsmsReceivedAction: !!set\n  - a\n", "rulesets/t.yaml:"),
    ],
    ids=["empty-int", "set-of-a-list"],
)
def test_tags_pyyaml_cannot_build_are_located_problems(
    setup: tuple[Project, Org], text: str, where: str
) -> None:
    project, _ = setup
    project.write("rulesets/t.yaml", text)
    result = project.run("validate")
    assert result.exit_code == 1
    assert where in result.output and "YAML error" in result.output
    assert "Traceback" not in result.output
