"""The fast paths of loading and planning give exactly what the general paths give, and the
commands load only what they use. (How fast they are is printed by tests/perf/bench.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulesync.documents import diff, live_document, matches_live
from rulesync.fields import RELATIONSHIPS
from rulesync.live import LiveRuleset, live_rulesets
from tests.helpers import Org, Project, api_project

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.sampled_from(["a", "b", "1", "stop"]),
    st.just(1.0),
)
rel_data = st.one_of(
    st.none(),
    st.builds(
        lambda t, i: {"type": t, "id": i},
        st.sampled_from(["stage", "user", "x"]),
        st.one_of(st.integers(1, 3), st.sampled_from(["1", "2", "x"]), st.just(True)),
    ),
)
names = st.sampled_from(["name", "includeUnsubscribeLinks", "owner", "startedStage", "x/y~"])
live_resources = st.fixed_dictionaries(
    {},
    optional={
        "attributes": st.one_of(st.dictionaries(names, values, max_size=4), st.just([])),
        "relationships": st.one_of(
            st.dictionaries(
                names,
                st.one_of(st.builds(lambda d: {"data": d}, rel_data), st.just("junk")),
                max_size=3,
            ),
            st.none(),
        ),
    },
)
documents = st.fixed_dictionaries(
    {
        "attributes": st.dictionaries(names, values, max_size=4),
        "relationships": st.dictionaries(names, rel_data, max_size=3),
    }
)


def typed(resource: dict[str, Any]) -> LiveRuleset:
    """``resource`` read as the live ruleset 1 (named "A" unless it has a name)."""
    attrs = resource.get("attributes")
    attrs = attrs if isinstance(attrs, dict) else {}
    name = attrs.get("name") if isinstance(attrs.get("name"), str) else "A"
    (live,) = live_rulesets([{**resource, "id": 1, "attributes": {**attrs, "name": name}}]).rulesets
    return live


@settings(max_examples=1500, deadline=None)
@given(resource=live_resources, after=documents)
def test_the_quick_compare_agrees_with_the_diff(resource: dict[str, Any], after: Any) -> None:
    """The planner skips the diff when the quick compare says live already matches: it must
    say so exactly when the diff would be empty (True == 1, "1" vs 1, odd shapes included)."""
    fields = [*after["attributes"], *after["relationships"]]
    live = typed(resource)
    assert matches_live(live, after) == (not diff(live_document(live, fields), after))


def test_the_quick_compare_sees_a_relationship_change() -> None:
    live = typed(
        {
            "attributes": {"name": "A"},
            "relationships": {"owner": {"data": {"type": "user", "id": "4"}}},
        }
    )
    same: dict[str, Any] = {
        "attributes": {"name": "A"},
        "relationships": {"owner": {"type": "user", "id": 4}},
    }
    other: dict[str, Any] = {
        "attributes": {"name": "A"},
        "relationships": {"owner": {"type": "user", "id": 5}},
    }
    assert matches_live(live, same)
    assert not matches_live(live, other)
    assert "owner" in RELATIONSHIPS


def modules_after(command: str, cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """The modules a real `rulesync ...` process has loaded when it ends."""
    code = (
        "import atexit, json, sys\n"
        "def report():\n"
        "    sys.__stderr__.write('MODULES ' + json.dumps(sorted(sys.modules)))\n"
        "atexit.register(report)\n"
        "from rulesync.cli import main\n"
        f"main({command.split()!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )
    line = next(x for x in result.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line[len("MODULES ") :]))


def test_validate_loads_no_http_stack_no_emulator_no_applier(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.ruleset("Inbound", "includeUnsubscribeLinks: true\n")
    loaded = modules_after("validate", tmp_path)
    assert "rulesync.loader" in loaded  # it did validate
    for heavy in ("requests", "urllib3", "rulesync.client", "rulesync.applier", "werkzeug"):
        assert heavy not in loaded, heavy
    assert not any(
        m.startswith("rulesync.emulator.") and m != "rulesync.emulator.cli" for m in loaded
    )
    # pydantic's model layer costs more than all the rest of `validate` (files and config are
    # checked with pydantic-core schemas instead), and OpenSSL is only needed to serve
    for heavy in ("pydantic.main", "pydantic._internal._generate_schema", "_hashlib"):
        assert heavy not in loaded, heavy  # the model layer; OpenSSL (secrets, hashlib)


def test_plan_against_an_org_loads_no_emulator_no_applier_no_export(
    tmp_path: Path, emulator_server: Any
) -> None:
    import os

    project, _ = api_project(tmp_path, emulator_server)
    project.ruleset("Inbound", "includeUnsubscribeLinks: true\n")
    loaded = modules_after("plan", tmp_path, env={**os.environ, **project.env})
    assert "rulesync.planner" in loaded  # it did plan
    for heavy in ("rulesync.applier", "rulesync.export", "werkzeug", "ruamel.yaml", "jsonpatch"):
        assert heavy not in loaded, heavy


def test_validate_reads_each_file_once_for_all_environments(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write(
        "rulesync.yaml",
        """\
        environments:
          local: {api_url: embedded}
          staging: {api_url: embedded}
          production: {api_url: embedded}
        """,
    )
    for i in range(3):
        project.ruleset(f"R{i}", "includeUnsubscribeLinks: true\n")
    opened = _opens_during(lambda: project.run("validate"), tmp_path / "rulesets")
    assert sorted(opened) == sorted(str(p) for p in (tmp_path / "rulesets").iterdir())


_WATCHED: list[str] = []
_OPENED: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if (
        event == "open"
        and _WATCHED
        and isinstance(args[0], str)
        and args[0].startswith(_WATCHED[0])
    ):
        _OPENED.append(args[0])


sys.addaudithook(_audit)


def _opens_during(action: Any, folder: Path) -> list[str]:
    """Files under ``folder`` opened while ``action`` runs (Python's audit events: nothing of
    ours is replaced)."""
    _OPENED.clear()
    _WATCHED[:] = [str(folder)]
    try:
        result = action()
        assert result.exit_code == 0, result.output
        assert "Valid: 3 rulesets" in result.output
    finally:
        _WATCHED.clear()
    return list(_OPENED)


@pytest.fixture
def org_project(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def test_file_problems_come_first_though_the_org_is_read_meanwhile(
    org_project: tuple[Project, Org],
) -> None:
    """The live rulesets are listed while the files are read; a file problem is still what
    plan reports (not an API answer), and plan stops there."""
    project, org = org_project
    org.create("Inbound")
    project.ruleset("Inbound", "includeUnsubscribeLinks: maybe\n")
    org.faults(error_rate=1.0, error_statuses=[401])
    result = project.run("plan")
    assert result.exit_code == 1
    assert (
        "rulesets/inbound.yaml:2:26: includeUnsubscribeLinks: must be true or false"
        in result.output
    )
    assert "401" not in result.output


def test_a_missing_token_is_reported_after_the_files(org_project: tuple[Project, Org]) -> None:
    project, _ = org_project
    project.ruleset("Inbound", "includeUnsubscribeLinks: true\n")
    project.env.pop("RULESYNC_TEST_TOKEN")
    result = project.run("plan")
    assert result.exit_code == 1
    assert "RULESYNC_TEST_TOKEN" in result.output
    project.ruleset("Inbound", "includeUnsubscribeLinks: maybe\n")
    result = project.run("plan")
    assert "includeUnsubscribeLinks: must be true or false" in result.output
    assert "RULESYNC_TEST_TOKEN" not in result.output


def test_an_api_error_while_reading_ahead_is_the_plans_error(
    org_project: tuple[Project, Org],
) -> None:
    project, org = org_project
    project.ruleset("Inbound", "includeUnsubscribeLinks: true\n")
    org.faults(error_rate=1.0, error_statuses=[403])
    result = project.run("plan")
    assert result.exit_code == 1
    assert "403" in result.output and "GET /api/v2/rulesets" in result.output
