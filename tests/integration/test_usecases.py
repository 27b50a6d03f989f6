"""The use-cases under the command line, called directly against the emulator over HTTP: what
each returns (changes, refusals, problems) and its exit code, with nothing printed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rulesync.applier import Outcome
from rulesync.emulator.server import EmulatorServer
from rulesync.errors import ApplyFailed, InvalidFiles, StalePlan, UnsafePlan
from rulesync.plan import Plan
from rulesync.usecases.applying import ApplyHooks, ApplyOptions, apply
from rulesync.usecases.exporting import ExportOptions, export
from rulesync.usecases.planning import PlanOptions, plan, show
from rulesync.usecases.validating import validate
from tests.filter_servers import FilterProxy, serving
from tests.helpers import Org, Project, api_project


@pytest.fixture
def setup(
    tmp_path: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Project, Org]]:
    """A project whose `test` environment is the emulator, run from its folder as the CLI is."""
    project, org = api_project(tmp_path, emulator)
    for name, value in project.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    yield project, org


def test_a_plan_returns_its_changes_and_2_with_changes_0_without(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("Outbound", includeUnsubscribeLinks=False)
    project.ruleset("Inbound", "includeUnsubscribeLinks: true\n")
    project.ruleset("Outbound", "includeUnsubscribeLinks: true\n")
    detailed = PlanOptions(detailed_exitcode=True)

    result = plan(None, None, detailed)
    assert [(c.action, c.name) for c in result.plan.changes] == [
        ("create", "Inbound"),
        ("update", "Outbound"),
    ]
    assert result.refusals == () and result.error is None
    assert result.exit_code == 2
    assert plan(None, None).exit_code == 0  # without --detailed-exitcode, changes are success

    org.create("Inbound", includeUnsubscribeLinks=True)
    org.update(org.by_name()["Outbound"]["id"], includeUnsubscribeLinks=True)  # type: ignore[arg-type]
    settled = plan(None, None, detailed)
    assert settled.plan.changes == ()
    assert settled.exit_code == 0


def test_a_plan_never_writes_and_saves_what_it_returns(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.ruleset("Inbound")
    result = plan(None, None, PlanOptions(out=Path("plan.json")))
    assert result.saved_to == Path("plan.json")
    saved = json.loads((project.root / "plan.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in saved["changes"]] == ["Inbound"]
    assert org.writes() == 0
    assert org.names() == []


def test_an_unsafe_plan_is_returned_with_its_reasons_and_exit_3(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("A")
    org.create("B")
    project.ruleset("C")
    result = plan(None, None, PlanOptions(prune=True))
    assert sorted(c.action for c in result.plan.changes) == ["create", "delete", "delete"]
    assert result.exit_code == 3
    assert any("deletes every live managed ruleset (2 of 2)" in r for r in result.refusals)
    assert isinstance(result.error, UnsafePlan)
    assert str(result.error).startswith("unsafe plan, it would be refused:\n  - ")
    assert str(result.error).endswith("\nReview it; `rulesync apply --force` overrides.")


def test_apply_of_an_unsafe_plan_returns_the_refusal_and_3_without_writing(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("A")
    org.create("B")
    project.ruleset("C")
    shown: list[Plan] = []
    asked: list[Plan] = []
    hooks = ApplyHooks(show_plan=shown.append, confirm=asked.append)
    writes = org.writes()

    result = apply(None, None, ApplyOptions(prune=True), hooks=hooks)
    assert result.exit_code == 3
    assert isinstance(result.error, UnsafePlan)
    assert "deletes every live managed ruleset (2 of 2)" in result.refused
    assert result.report is None  # nothing started
    assert [p.changes for p in shown] == [result.plan.changes]  # shown, then refused
    assert asked == []  # refused before asking
    assert org.writes() == writes
    assert org.names() == ["A", "B"]

    forced = apply(None, None, ApplyOptions(prune=True, force=True), hooks=hooks)
    assert forced.exit_code == 0 and forced.error is None
    assert [p.environment for p in asked] == ["test"]  # asked once, before writing
    assert org.names() == ["C"]


def test_a_saved_plan_protected_since_is_refused_with_3_without_writing(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("Legacy")
    org.create("Keep")
    project.ruleset("Keep")
    assert plan(None, None, PlanOptions(prune=True, out=Path("plan.json"))).exit_code == 0
    project.configure("safety: {protect: [Legacy]}\n")
    writes = org.writes()
    result = apply(None, None, ApplyOptions(plan_file=Path("plan.json")))
    assert result.exit_code == 3
    assert "deletes 'Legacy', which safety.protect ['Legacy'] protects" in result.refused
    assert result.report is None and not result.shown
    assert org.writes() == writes
    assert org.names() == ["Keep", "Legacy"]
    # `show` flags the same plan, and is not itself a failure
    flagged = show(None, Path("plan.json"))
    assert flagged.exit_code == 0
    assert any("protects" in r for r in flagged.refusals)


def test_a_saved_plan_reports_progress_of_each_change_and_is_not_asked_again(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    project.ruleset("A")
    project.ruleset("B")
    assert plan(None, None, PlanOptions(out=Path("plan.json"))).exit_code == 0
    watched: list[tuple[int, str]] = []
    asked: list[Plan] = []

    @contextmanager
    def progress(total: int, requests: Callable[[], int]) -> Iterator[Callable[[Outcome], None]]:
        yield lambda outcome: watched.append((total, f"{outcome.change.name}: {outcome.ok}"))

    hooks = ApplyHooks(show_plan=asked.append, confirm=asked.append, progress=progress)
    result = apply(None, None, ApplyOptions(plan_file=Path("plan.json")), hooks=hooks)
    assert result.exit_code == 0, result.error
    assert sorted(watched) == [(2, "A: True"), (2, "B: True")]
    assert asked == []  # reviewed when it was saved: neither shown nor confirmed again
    assert org.names() == ["A", "B"]


def test_a_stale_saved_plan_reports_every_change_not_started_and_3(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    rid = org.create("U", includeUnsubscribeLinks=False)
    project.ruleset("U", "includeUnsubscribeLinks: true\n")
    project.ruleset("C")
    assert plan(None, None, PlanOptions(out=Path("plan.json"))).exit_code == 0
    org.update(rid, meetingBookedAction="finish")  # someone edits U in the UI meanwhile
    writes = org.writes()
    result = apply(None, None, ApplyOptions(plan_file=Path("plan.json")))
    assert result.exit_code == 3
    assert isinstance(result.error, StalePlan)
    assert f"'U' (id {rid}) changed" in result.refused
    assert result.report is not None
    assert sorted(c.name for c in result.report.skipped) == ["C", "U"]
    assert result.report.applied == []
    assert org.writes() == writes


def test_a_confirmation_that_stops_leaves_the_org_untouched(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.ruleset("Inbound")

    def decline(plan: Plan) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        apply(None, None, hooks=ApplyHooks(confirm=decline))
    assert org.names() == []
    assert org.writes() == 0


def test_apply_returns_what_it_applied_and_0(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Outbound", includeUnsubscribeLinks=False)
    project.ruleset("Inbound")
    project.ruleset("Outbound", "includeUnsubscribeLinks: true\n")
    result = apply(None, None)
    assert result.exit_code == 0 and result.error is None
    assert result.report is not None
    assert sorted((o.change.action, o.change.name) for o in result.report.applied) == [
        ("create", "Inbound"),
        ("update", "Outbound"),
    ]
    assert org.by_name()["Outbound"]["attributes"]["includeUnsubscribeLinks"] is True  # type: ignore[index]
    again = apply(None, None)
    assert again.plan.changes == () and again.exit_code == 0
    assert again.report is not None and again.report.outcomes == []


def test_a_failed_change_is_exit_4_and_the_others_are_applied(
    setup: tuple[Project, Org], emulator: EmulatorServer
) -> None:
    project, org = setup
    # the API refuses one create (a 422 with a pointer); the other still applies
    with serving(FilterProxy(emulator.url, mode="new", reject=("Bad",))) as url:
        project.write(
            "rulesync.yaml",
            f"""\
            default_environment: test
            environments:
              test: {{api_url: "{url}", auth: {{access_token_env: RULESYNC_TEST_TOKEN}}}}
            """,
        )
        project.ruleset("Bad", "startedStage: Cold\n")
        project.ruleset("Good")
        result = apply(None, None)
    assert result.exit_code == 4
    assert isinstance(result.error, ApplyFailed)
    assert result.report is not None
    assert [o.change.name for o in result.report.failed] == ["Bad"]
    assert [o.change.name for o in result.report.applied] == ["Good"]
    assert org.names() == ["Good"]


def test_validate_returns_located_problems_and_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(tmp_path)
    project.ruleset("Inbound", "includeUnsubscribeLinks: maybe\n")
    project.ruleset("Outbound", "includeUnsubscribeLinks: true\n")
    monkeypatch.chdir(tmp_path)
    result = validate(None)
    assert result.exit_code == 1
    assert [str(p) for p in result.problems] == [
        "rulesets/inbound.yaml:2:26: includeUnsubscribeLinks: must be true or false, got 'maybe'"
    ]
    assert isinstance(result.error, InvalidFiles)
    assert result.error.problems == list(result.problems)

    project.ruleset("Inbound", "includeUnsubscribeLinks: true\n")
    valid = validate(None)
    assert valid.exit_code == 0 and valid.error is None
    assert valid.problems == ()
    assert valid.rulesets == 2


def test_validate_returns_a_config_problem_instead_of_raising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(tmp_path)
    project.write("rulesync.yaml", "environments: [not, a, mapping]\n")
    monkeypatch.chdir(tmp_path)
    result = validate(None)
    assert result.exit_code == 1
    assert result.problems and all(p.path == "rulesync.yaml" for p in result.problems)
    assert result.environments == ()


def test_notes_arrive_as_they_arise_even_when_a_later_step_fails(
    setup: tuple[Project, Org], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which config is used is noted before the files are read: a file problem later still
    leaves that note (the CLI prints notes as they come)."""
    project, _ = setup
    project.ruleset("Inbound", "includeUnsubscribeLinks: maybe\n")
    (project.root / "sub").mkdir()
    monkeypatch.chdir(project.root / "sub")
    notes: list[str] = []
    with pytest.raises(InvalidFiles):
        plan(None, None, notes=notes.append)
    assert notes == [
        f"Using {Path('..') / 'rulesync.yaml'} (paths below are relative to its folder)."
    ]


def test_export_returns_what_it_wrote(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Inbound", includeUnsubscribeLinks=True)
    result = export(None, None, ExportOptions())
    assert result.exit_code == 0
    assert result.exported.exported == 1 and result.exported.new_files == 1
    assert result.folder == "rulesets"
    assert (project.root / "rulesets" / "inbound.yaml").exists()
    assert plan(None, None, PlanOptions(detailed_exitcode=True)).exit_code == 0
