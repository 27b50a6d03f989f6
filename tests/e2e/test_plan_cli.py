"""`rulesync plan` and `show` end to end: files on disk, the CLI, the emulator over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rulesync.emulator.server import EmulatorServer
from tests.helpers import Org, Project, api_project, run_on_terminal


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def plan_json(project: Project, *args: str) -> dict[str, Any]:
    result = project.run("plan", "--format", "json", *args)
    assert result.exit_code in (0, 2), result.output
    return dict(json.loads(result.stdout))


def test_create_update_delete_in_order_with_patches(setup: tuple[Project, Org]) -> None:
    project, org = setup
    legacy = org.create("Legacy")
    outbound = org.create(
        "Outbound",
        includeUnsubscribeLinks=False,
        stepOverridesEnabled=True,
        startedStage=("stage", 1),
    )
    org.create("Steady", includeUnsubscribeLinks=True)
    project.ruleset("Steady", "includeUnsubscribeLinks: true\n")
    project.ruleset("Outbound", "includeUnsubscribeLinks: true\nstartedStage: Approaching\n")
    project.ruleset("Inbound leads", "owner: revops@example.com\nautoResumeOotoProspectsIn: 3d\n")

    plan = plan_json(project, "--prune")
    assert plan["format_version"] == 1 and plan["environment"] == "test"
    assert plan["summary"] == {
        "create": 1,
        "update": 1,
        "assign": 0,
        "detach": 0,
        "delete": 1,
        "unchanged": 1,
    }
    assert [(c["action"], c["name"]) for c in plan["changes"]] == [
        ("create", "Inbound leads"),
        ("update", "Outbound"),
        ("delete", "Legacy"),
    ]
    create, update, delete = plan["changes"]
    assert create["id"] is None
    assert create["after"] == {
        "attributes": {"autoResumeOotoProspectsIn": 259200, "name": "Inbound leads"},
        "relationships": {"owner": {"type": "user", "id": 2}},
    }
    assert update["id"] == outbound and update["renamed_from"] is None
    # stepOverridesEnabled is not in the file: unmanaged, so never compared or changed
    assert update["patch"] == [
        {"op": "replace", "path": "/attributes/includeUnsubscribeLinks", "value": True},
        {
            "op": "replace",
            "path": "/relationships/startedStage",
            "value": {"type": "stage", "id": 2},
        },
    ]
    assert update["live_version"].startswith("sha256:")
    assert delete["id"] == legacy and delete["before"]["attributes"]["name"] == "Legacy"


def test_text_plan_reads_like_terraform(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Outbound", autoResumeOotoProspectsIn=86400, repliedStage=("stage", 3))
    project.ruleset("Outbound", "autoResumeOotoProspectsIn: 3d\nrepliedStage: Interested\n")
    project.ruleset("New one", "callTaskPriority: High\n")
    result = project.run("plan")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "+ create 'New one'" in out
    assert "callTaskPriority" in out and "High (#1)" in out
    assert "~ update 'Outbound'" in out
    assert "autoResumeOotoProspectsIn  1d → 3d" in out
    assert "repliedStage               Replied (#3) → Interested (#4)" in out
    assert out.rstrip().endswith("Plan: 1 to create, 1 to update, 0 to delete, 0 unchanged.")
    assert "\033[" not in out  # no colour off a terminal


def test_no_changes_and_detailed_exitcode(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Same", includeUnsubscribeLinks=True)
    project.ruleset("Same", "includeUnsubscribeLinks: true\n")
    result = project.run("plan", "--detailed-exitcode")
    assert result.exit_code == 0 and "No changes." in result.stdout
    project.ruleset("Same", "includeUnsubscribeLinks: false\n")
    assert project.run("plan", "--detailed-exitcode").exit_code == 2
    assert project.run("plan").exit_code == 0


def test_explicit_null_is_managed_and_omitted_is_not(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create(
        "R", meetingBookedAction="finish", smsReceivedAction="finish", completedStage=("stage", 1)
    )
    project.ruleset("R", "meetingBookedAction: null\ncompletedStage: null\n")
    plan = plan_json(project)
    (change,) = plan["changes"]
    assert change["patch"] == [
        {"op": "replace", "path": "/attributes/meetingBookedAction", "value": None},
        {"op": "replace", "path": "/relationships/completedStage", "value": None},
    ]


def test_rename_through_previous_names_is_an_update(setup: tuple[Project, Org]) -> None:
    project, org = setup
    rid = org.create("Outbound v1", includeUnsubscribeLinks=True)
    project.ruleset("Outbound", "previousNames: [Outbound v1]\nincludeUnsubscribeLinks: true\n")
    plan = plan_json(project, "--prune")
    (change,) = plan["changes"]
    assert change["action"] == "update" and change["id"] == rid
    assert change["renamed_from"] == "Outbound v1"
    assert change["patch"] == [{"op": "replace", "path": "/attributes/name", "value": "Outbound"}]


def test_two_live_rulesets_with_one_name_leave_that_file_out_naming_ids(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    first, second = org.create("Twin"), org.create("Twin")
    project.ruleset("Twin", "includeUnsubscribeLinks: true\n")
    project.ruleset("Other", "includeUnsubscribeLinks: true\n")
    result = project.run("plan")
    assert result.exit_code == 0, result.output
    assert (
        f"rulesets/twin.yaml:1: 2 live rulesets are named 'Twin' (ids {first}, {second});"
        " this file is left out of the plan: add `id: N`" in result.stderr
    )
    assert "+ create 'Other'" in result.stdout  # every other ruleset still plans
    assert "Twin" not in result.stdout
    assert project.run("apply", "--yes").exit_code == 0
    assert "No changes." in project.run("plan").stdout


def test_pinned_duplicates_plan_cleanly_and_say_how_to_resolve(setup: tuple[Project, Org]) -> None:
    project, org = setup
    first, second = org.create("Twin"), org.create("Twin")
    project.ruleset("Twin", f"id: {first}\n", file="a")
    project.ruleset("Twin", f"id: {second}\n", file="b")
    result = project.run("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "No changes." in result.stdout
    assert f"2 live rulesets are named 'Twin' (ids {first}, {second}); each file pins" in (
        result.stderr
    )


def test_unknown_reference_offers_closest_names(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("R", "startedStage: Aproaching\nowner: revop@example.com\n")
    result = project.run("plan")
    assert result.exit_code == 1
    assert (
        "rulesets/r.yaml:2:15: startedStage: no stage named 'Aproaching' in this org; did you "
        "mean 'Approaching'?" in result.output
    )
    assert "rulesets/r.yaml:3:8: owner: no user named 'revop@example.com'" in result.output
    assert "Traceback" not in result.output


def test_only_referenced_kinds_are_listed_and_rulesets_in_pages(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "rulesets": [
                    {"attributes": {"name": f"R{i:05}", "includeUnsubscribeLinks": True}}
                    for i in range(2500)
                ]
            }
        )
    )
    with EmulatorServer(token="t", seed_path=seed) as server:
        project, org = api_project(tmp_path / "p", server)
        project.ruleset("R00001", "includeUnsubscribeLinks: true\nstartedStage: Cold\n")
        project.ruleset("R00002", "includeUnsubscribeLinks: true\nowner: {id: 1}\n")
        result = project.run("plan", "--format", "json")
        assert result.exit_code == 0, result.output
        stats = org.stats()
        by_route = stats["by_route"]
        # rulesets: ceil(2500/1000) pages; stages (by name) and users (an {id: N}, checked);
        # never task priorities, which no file refers to; and one filtered listing of the
        # sequences that use the two updated rulesets (their blast radius)
        assert by_route == {
            "GET /api/v2/rulesets": 3,
            "GET /api/v2/stages": 1,
            "GET /api/v2/users": 1,
            "GET /api/v2/sequences": 1,
        }
        assert json.loads(result.stdout)["api_requests"] == 6


def test_odd_live_data_is_shown_as_it_is(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        json.dumps(
            {
                "rulesets": [
                    {"id": 5, "attributes": {"name": "Other", "includeUnsubscribeLinks": True}},
                    {
                        "id": 6,
                        "attributes": {
                            "name": "Odd",
                            "includeUnsubscribeLinks": None,
                            "sequenceExclusivity": "sometimes",
                            "callOptOutAction": "a much too long value",
                        },
                        "relationships": {"owner": {"data": None}},
                    },
                ]
            }
        )
    )
    with EmulatorServer(token="t", seed_path=seed) as server:
        project, _ = api_project(tmp_path / "p", server)
        project.ruleset("Odd", "includeUnsubscribeLinks: true\nsequenceExclusivity: none\n")
        result = project.run("plan", "--prune")
        assert result.exit_code == 0, result.output
        assert "~ update 'Odd' (id 6)" in result.stdout
        assert "includeUnsubscribeLinks  null → true" in result.stdout
        assert 'sequenceExclusivity      "sometimes" → "none"' in result.stdout
        assert "- delete 'Other' (id 5)" in result.stdout
        exported = project.run("export", "--out-dir", "exported")
        assert exported.exit_code == 0, exported.output
        text = (project.root / "exported" / "odd.yaml").read_text()
        # values Outreach holds but would refuse on write are kept as they are, marked held
        assert "callOptOutAction: {held: a much too long value}" in text
        assert "sequenceExclusivity: {held: sometimes}" in text
        assert "Warning: 'Odd' (id 6): callOptOutAction: Outreach holds" in exported.stderr


def test_unsafe_plans_are_shown_in_full_then_exit_3(setup: tuple[Project, Org]) -> None:
    project, org = setup
    for i in range(3):
        org.create(f"Old {i}")
    project.ruleset("Keep")
    result = project.run("plan", "--prune", "--out", "plan.json")
    assert result.exit_code == 3
    assert result.stdout.count("- delete") == 3  # reviewers still see it
    assert "deletes every live managed ruleset (3 of 3)" in result.output
    shown = project.run("show", "plan.json", "--format", "markdown")
    assert shown.exit_code == 0
    assert "This plan is unsafe and will be refused" in shown.stdout


def test_threshold_refuses_mass_updates_with_numbers(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.configure("safety: {max_change_percent: 30, min_existing: 4}\n")
    for i in range(5):
        org.create(f"R{i}", includeUnsubscribeLinks=False)
        project.ruleset(f"R{i}", f"includeUnsubscribeLinks: {'true' if i < 2 else 'false'}\n")
    result = project.run("plan", "--format", "markdown")
    assert result.exit_code == 3
    assert (
        "updates and deletes 2 of 5 live managed rulesets (40.0%), over "
        "safety.max_change_percent 30%" in result.output
    )
    assert "This plan is unsafe" in result.stdout


def test_protect_and_manage_are_never_deleted(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.configure("manage: ['Team *', 'Default*']\nsafety: {protect: ['Default*']}\n")
    for name in ("Default ruleset", "Team old", "Team b", "Marketing"):
        org.create(name)
    project.ruleset("Team a")
    project.ruleset("Team b")
    plan = plan_json(project, "--prune")
    assert [(c["action"], c["name"]) for c in plan["changes"]] == [
        ("create", "Team a"),
        ("delete", "Team old"),
    ]


def test_target_limits_the_run(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Gone")
    org.create("Other")
    project.ruleset("A")
    project.ruleset("B")
    plan = plan_json(project, "--target", "B", "--prune")
    assert [c["name"] for c in plan["changes"]] == ["B"]
    plan = plan_json(project, "--target", "Gone", "--prune")
    assert [(c["action"], c["name"]) for c in plan["changes"]] == [("delete", "Gone")]
    result = project.run("plan", "--target", "Bee")
    assert (
        result.exit_code == 1
        and "--target names no declared or live ruleset: 'Bee'" in result.output
    )


def test_same_inputs_same_bytes_and_show_reads_saved_plan(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("U", includeUnsubscribeLinks=False)
    project.ruleset("U", "includeUnsubscribeLinks: true\n")
    project.ruleset("C", "callTaskPriority: Low\n")
    assert project.run("plan", "--out", "one.json").exit_code == 0
    assert project.run("plan", "--out", "two.json").exit_code == 0
    one = json.loads((project.root / "one.json").read_text())
    two = json.loads((project.root / "two.json").read_text())
    one.pop("generated_at"), two.pop("generated_at")
    assert one == two
    shown = project.run("show", "one.json")
    assert shown.exit_code == 0
    assert "+ create 'C'" in shown.stdout and "~ update 'U'" in shown.stdout
    shown_json = json.loads(project.run("show", "one.json", "--format", "json").stdout)
    shown_json.pop("generated_at")
    assert shown_json == one


def test_show_rejects_files_that_are_not_plans(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.write("bad.json", "{not json")
    project.write("other.json", '{"hello": 1}')
    project.write("future.json", '{"format_version": 9, "changes": []}')
    assert "not JSON" in project.run("show", "bad.json").output
    assert "not a rulesync plan file" in project.run("show", "other.json").output
    assert "format_version 9 is not supported" in project.run("show", "future.json").output
    assert project.run("show", "missing.json").exit_code == 1


def test_markdown_is_bounded_and_summarizes_the_rest(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    body = "".join(f"meetingBookedAction: {'x' * 200}\n" for _ in range(1))
    for i in range(400):
        project.ruleset(f"Ruleset number {i:04}", body, file=f"r{i}")
    result = project.run("plan", "--format", "markdown")
    assert result.exit_code == 0
    out = result.stdout
    assert len(out) < 60_000
    assert "**Plan: 400 to create, 0 to update, 0 to delete, 0 unchanged.**" in out
    assert "more changed rulesets are not shown here" in out
    assert out.count("<details>") == out.count("</details>")


def test_wrong_token_is_one_clear_line(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("A")
    project.env["RULESYNC_TEST_TOKEN"] = "wrong"
    result = project.run("plan")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "401" in lines[0] and "check the token in $RULESYNC_TEST_TOKEN" in lines[0]
    assert "Traceback" not in result.output


def test_missing_token_names_the_variable(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("A")
    project.env.clear()
    result = project.run("plan")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: access token missing: set the environment variable RULESYNC_TEST_TOKEN"
    )


def test_unreachable_api(tmp_path: Path) -> None:
    project = Project(tmp_path, env={"T": "x"})
    project.write(
        "rulesync.yaml",
        """\
        environments:
          local:
            api_url: http://127.0.0.1:9/api/v2
            auth: {access_token_env: T}
        """,
    )
    project.ruleset("A")
    result = project.run("plan")
    assert result.exit_code == 1
    assert "cannot reach the API at http://127.0.0.1:9/api/v2" in result.output


def test_embedded_plan_works_out_of_the_box(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.ruleset("A", "startedStage: Approaching\n")
    result = project.run("plan")
    assert result.exit_code == 0, result.output
    assert "environment 'local' at embedded" in result.stdout
    assert (tmp_path / ".rulesync" / "local.sqlite").exists()


def test_colour_only_on_a_terminal_and_no_color_respected(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("New")
    coloured, _ = run_on_terminal(project, "plan")
    assert "\033[32m+ create\033[0m 'New'" in coloured
    plain, _ = run_on_terminal(project, "plan", extra_env={"NO_COLOR": "1"})
    assert "+ create 'New'" in plain and "\033[" not in plain
