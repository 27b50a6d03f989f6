"""Every plan-time error points at PATH:LINE:COL of the field itself, like `validate`: in the
ruleset file, or in rulesync.yaml when a default or override set the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rulesync.emulator.server import EmulatorServer
from tests.helpers import Org, Project, api_project


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def plan_error(project: Project) -> str:
    result = project.run("plan")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def test_an_id_reference_that_does_not_exist_fails_the_plan_located(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    project.ruleset("R", "includeUnsubscribeLinks: true\ndeliveredStage: {id: 99}\n")
    out = plan_error(project)
    assert (
        "rulesets/r.yaml:3:17: deliveredStage: no stage with id 99 in this org; check the id,"
        " or use its name" in out
    )
    assert "1 problem found; fix them and plan again." in out
    assert org.names() == []


def test_an_id_reference_in_block_style_is_located_at_its_mapping(
    setup: tuple[Project, Org],
) -> None:
    project, _ = setup
    project.ruleset("R", "deliveredStage:\n  id: 99\nowner: ada@example.com\n")
    out = plan_error(project)
    assert "rulesets/r.yaml:3:3: deliveredStage: no stage with id 99 in this org" in out


def test_an_existing_id_reference_plans(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("R", "deliveredStage: {id: 2}\n")
    result = project.run("plan")
    assert result.exit_code == 0, result.output
    assert "deliveredStage  Approaching (#2)" in result.output


def test_a_default_from_the_config_is_located_in_the_config(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.configure("defaults:\n  startedStage: Aproaching\n")
    project.ruleset("R")
    out = plan_error(project)
    assert "rulesync.yaml:7:17: startedStage: no stage named 'Aproaching'" in out


def test_an_override_is_located_in_the_config(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.write(
        "rulesync.yaml",
        (project.root / "rulesync.yaml").read_text()
        + "    overrides:\n      R: {owner: nobody@example.com}\n",
    )
    project.ruleset("R", "owner: ada@example.com\n")
    out = plan_error(project)
    assert "rulesync.yaml:7:18: owner: no user named 'nobody@example.com'" in out


def test_an_ambiguous_user_is_located(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("users: [{id: 1, email: Ops@example.com}, {id: 2, email: ops@example.com}]\n")
    with EmulatorServer(token="t", seed_path=seed) as server:
        project, _ = api_project(tmp_path / "p", server)
        project.ruleset("R", "# owner below\nowner: ops@example.com\n")
        out = plan_error(project)
    assert "rulesets/r.yaml:3:8: owner: user 'ops@example.com' is ambiguous: ids [1, 2]" in out


def test_a_previous_name_two_live_rulesets_share_is_located(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    first, second = org.create("Twin"), org.create("Twin")
    project.write("rulesets/new.yaml", "---\n# renamed\nname: New\npreviousNames: [Twin]\n")
    out = plan_error(project)
    assert (
        f"rulesets/new.yaml:4:16: previousNames: 2 live rulesets are named 'Twin'"
        f" (ids {first}, {second})" in out
    )


def test_previous_names_conflicts_are_located(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Old A")
    org.create("Old B")
    project.ruleset("New", "previousNames: [Old A, Old B]\n")
    out = plan_error(project)
    assert "rulesets/new.yaml:2:16: previousNames: 'New': several previousNames are live" in out


def test_a_missing_pin_is_located_at_the_id(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("Ghost", "includeUnsubscribeLinks: true\nid: 4242\n")
    out = plan_error(project)
    assert "rulesets/ghost.yaml:3:5: id: 'Ghost': id 4242: the live ruleset does not exist" in out


@pytest.mark.parametrize(
    "text",
    [
        "name: R\nstartedStage: Cold\n",
        "# a comment\n\nname:   R   # note\ndeliveredStage:\n  id: 2\nowner: a@b.c\n",
        "name: 'Quoted, name'\nincludeUnsubscribeLinks: yes\ncallTaskPriority: {id: 1}\n",
    ],
)
def test_flat_file_positions_are_the_ones_pyyaml_gives(text: str) -> None:
    from rulesync.fastyaml import read_flat
    from rulesync.yamlio import load_documents

    flat = read_flat(text)
    assert flat is not None  # the fast reader takes it
    (_, located), *_ = load_documents(text, "x.yaml")[0]
    assert flat[2] == located.value_positions
