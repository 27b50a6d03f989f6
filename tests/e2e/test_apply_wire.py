"""What apply puts on the wire, and what it does when the server does not do what it said:
checked through a recording, tampering proxy in front of the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Org, Project, api_project
from tests.proxy import Proxy, drop_attribute


@pytest.fixture
def wired(tmp_path: Path, emulator: Any) -> Iterator[tuple[Project, Org, Proxy]]:
    with Proxy(emulator.url) as proxy:
        project, org = api_project(tmp_path, emulator, through=proxy.api_url)
        yield project, org, proxy


def test_an_update_sends_exactly_the_changed_fields(wired: tuple[Project, Org, Proxy]) -> None:
    project, org, proxy = wired
    rid = org.create(
        "Outbound",
        includeUnsubscribeLinks=False,
        stepOverridesEnabled=True,
        startedStage=("stage", 1),
        owner=("user", 2),
    )
    project.ruleset(
        "Outbound",
        """\
        includeUnsubscribeLinks: true
        stepOverridesEnabled: true
        startedStage: Approaching
        owner: revops@example.com
        """,
    )
    result = project.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    writes = proxy.writes()
    assert [(w.method, w.path) for w in writes] == [("PATCH", f"/api/v2/rulesets/{rid}")]
    assert writes[0].body == {
        "data": {
            "type": "ruleset",
            "id": rid,
            "attributes": {"includeUnsubscribeLinks": True},
            "relationships": {"startedStage": {"data": {"type": "stage", "id": 2}}},
        }
    }


def test_a_server_that_ignores_a_field_fails_verification(
    wired: tuple[Project, Org, Proxy],
) -> None:
    project, org, proxy = wired
    org.create("Outbound", includeUnsubscribeLinks=False, stepOverridesEnabled=False)
    project.ruleset("Outbound", "includeUnsubscribeLinks: true\nstepOverridesEnabled: true\n")
    proxy.tamper = drop_attribute("includeUnsubscribeLinks")
    result = project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    assert "'Outbound'" in result.output
    assert "/attributes/includeUnsubscribeLinks" in result.output
    assert "/attributes/stepOverridesEnabled" not in result.output.split("verify")[-1]
    # the field the server did keep is applied; the other still shows in the next plan
    proxy.tamper = None
    again = project.run("plan")
    assert "includeUnsubscribeLinks" in again.output
    assert "stepOverridesEnabled" not in again.output
