"""Lookups by name are exact, whatever the server does with `filter[name]` (Outreach
conventions, `filtering`: the legacy syntax reads `a,b` as a list and `lo..hi` as a range;
`newFilterSyntax=true` with `filter[name][]` takes values literally; a server may also ignore
a filter). A hit whose name is not exactly equal is never adopted, patched or deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.filter_servers import MODES, FilterProxy, legacy_match, serving
from tests.helpers import Org, Project, api_project


def test_the_legacy_reading_is_what_the_conventions_describe() -> None:
    assert legacy_match("Inbound", "Inbound, EMEA")
    assert legacy_match("EMEA", "Inbound, EMEA")
    assert not legacy_match("Inbound, EMEA", "Inbound, EMEA")
    assert legacy_match("B", "A..Z")


@pytest.fixture
def proxied(
    tmp_path: Path, emulator: Any, request: pytest.FixtureRequest
) -> Iterator[tuple[Project, Org, FilterProxy]]:
    mode, drops = request.param
    proxy = FilterProxy(emulator.url, mode=mode, drop_creates=drops)
    with serving(proxy) as url:
        project, org = api_project(tmp_path, emulator, through=url)
        yield project, org, proxy


def _named(org: Org, name: str) -> list[dict[str, Any]]:
    return [r for r in org.rulesets() if r["attributes"]["name"] == name]  # type: ignore[index]


@pytest.mark.parametrize("proxied", [(mode, 1) for mode in MODES], indirect=True, ids=MODES)
@pytest.mark.parametrize(
    ("name", "bystander"), [("Inbound, EMEA", "Inbound"), ("A..Z", "B")], ids=["comma", "range"]
)
def test_a_lost_create_answer_converges_without_touching_a_near_name(
    proxied: tuple[Project, Org, FilterProxy], name: str, bystander: str
) -> None:
    project, org, proxy = proxied
    other = org.create(bystander, includeUnsubscribeLinks=False)
    before = _named(org, bystander)
    project.ruleset(name, "includeUnsubscribeLinks: true\n", file="new")

    result = project.run("apply", "--yes")

    assert result.exit_code == 0, result.output
    assert proxy.drop_creates == 0  # the create's answer was lost, the lookup resolved it
    assert len(_named(org, name)) == 1
    assert _named(org, bystander) == before  # never renamed, never patched
    assert org.by_name()[bystander]["id"] == other
    assert "No changes." in project.run("plan").output


@pytest.mark.parametrize("proxied", [(mode, 0) for mode in MODES], indirect=True, ids=MODES)
def test_lookups_ask_for_names_literally(proxied: tuple[Project, Org, FilterProxy]) -> None:
    project, org, proxy = proxied
    org.create("Inbound")
    project.ruleset("Inbound, EMEA", file="new")
    assert project.run("apply", "--yes").exit_code == 0
    by_name = [q for q in proxy.lookups if "filter%5Bname%5D" in q]
    assert by_name and all(
        "newFilterSyntax=true" in q and "filter%5Bname%5D%5B%5D=Inbound%2C+EMEA" in q
        for q in by_name
    )
    assert not [q for q in proxy.lookups if "filter%5Bname%5D=" in q]  # never the legacy form
    assert sorted(org.names()) == ["Inbound", "Inbound, EMEA"]


@pytest.mark.parametrize("proxied", [("legacy", 0)], indirect=True, ids=["legacy"])
def test_a_saved_plan_is_stale_when_its_exact_name_appeared(
    proxied: tuple[Project, Org, FilterProxy],
) -> None:
    project, org, _ = proxied
    org.create("Inbound")
    project.ruleset("Inbound, EMEA", file="new")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    rid = org.create("Inbound, EMEA")
    writes = org.writes()
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert f"'Inbound, EMEA' now exists (id {rid})" in result.output
    assert org.writes() == writes


@pytest.mark.parametrize("proxied", [("new", 0)], indirect=True, ids=["new"])
def test_a_rename_to_a_name_taken_since_planning_is_stale(
    proxied: tuple[Project, Org, FilterProxy],
) -> None:
    project, org, _ = proxied
    org.create("Old")
    project.ruleset("New", "previousNames: [Old]\n")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    taken = org.create("New")
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert f"'New' now exists (id {taken}); 'Old' cannot take it" in result.output
    assert sorted(org.names()) == ["New", "Old"]


def test_plan_json_round_trip_is_unchanged_by_the_proxy(tmp_path: Path, emulator: Any) -> None:
    """Sanity: through the `new` proxy a plain plan is the same as without it."""
    project, org = api_project(tmp_path, emulator)
    org.create("Keep")
    project.ruleset("Keep")
    direct = json.loads(project.run("plan", "--format", "json").stdout)
    with serving(FilterProxy(emulator.url, mode="new")) as url:
        api_project(tmp_path, emulator, through=url)  # the same project, through the proxy
        proxied = json.loads(project.run("plan", "--format", "json").stdout)
    assert direct["changes"] == proxied["changes"] == []
