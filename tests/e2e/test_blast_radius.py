"""The sequences a change touches, and what the credentials may do, shown before writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rulesync.emulator import EmulatorServer
from rulesync.plan import SequenceRef, describe
from rulesync.sequences import IDS_PER_REQUEST, QUERY_CHARS, id_chunks
from tests.helpers import Org, Project, api_project

# The emulator's default sequences (docs/emulator.md, seed data).
INBOUND, OUTBOUND, WEBINAR, CLOSED_LOST = 1, 2, 3, 4


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def assign(org: Org, sequence: int, ruleset: int | None) -> None:
    data = None if ruleset is None else {"type": "ruleset", "id": ruleset}
    response = org.http.patch(
        f"{org.api_url}/sequences/{sequence}",
        json={
            "data": {
                "type": "sequence",
                "id": sequence,
                "relationships": {"ruleset": {"data": data}},
            }
        },
    )
    assert response.status_code == 200, response.text


def ruleset_of(org: Org, sequence: int) -> int | None:
    response = org.http.get(f"{org.api_url}/sequences/{sequence}")
    assert response.status_code == 200, response.text
    data = response.json()["data"]["relationships"]["ruleset"]["data"]
    return None if data is None else int(data["id"])


def test_plan_shows_the_sequences_each_update_and_delete_touches(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    inbound = org.create("Inbound", includeUnsubscribeLinks=False)
    org.create("Quiet", includeUnsubscribeLinks=False)
    org.create("Unchanged")
    assign(org, INBOUND, inbound)
    assign(org, WEBINAR, inbound)
    project.ruleset("Inbound", "includeUnsubscribeLinks: true\n")
    project.ruleset("Quiet", "includeUnsubscribeLinks: true\n")
    project.ruleset("Unchanged")
    project.ruleset("New one")

    before = org.route("GET /api/v2/sequences")
    total = int(org.stats()["total"])
    result = project.run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    by_name = {c["name"]: c for c in plan["changes"]}
    assert by_name["Inbound"]["sequences"] == [
        {"id": INBOUND, "name": "Inbound demo request"},
        {"id": WEBINAR, "name": "Webinar follow-up"},
    ]
    assert by_name["Quiet"]["sequences"] == []
    assert "sequences" not in by_name["New one"]
    # one filtered listing answers for every changed ruleset, and it is counted
    assert org.route("GET /api/v2/sequences") - before == 1
    assert plan["api_requests"] == int(org.stats()["total"]) - total

    text = project.run("plan").stdout
    assert "used by 2 sequences: 'Inbound demo request' (id 1), 'Webinar follow-up' (id 3)" in text
    assert "used by no sequence" in text


def test_no_sequence_listing_when_nothing_is_updated_or_deleted(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("Same")
    project.ruleset("Same")
    project.ruleset("Brand new")
    result = project.run("plan")
    assert result.exit_code == 0, result.output
    assert org.route("GET /api/v2/sequences") == 0


def test_deleting_a_ruleset_in_use_is_unsafe_and_names_the_sequences(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    used = org.create("Used")
    org.create("Unused")
    project.ruleset("Other")
    assign(org, OUTBOUND, used)

    result = project.run("plan", "--prune")
    assert result.exit_code == 3, result.output
    assert "deletes 'Used', which 1 sequence: 'Outbound - VP Sales' (id 2) still use" in (
        result.stderr
    )
    assert "'Unused'" not in result.stderr  # an unused ruleset deletes safely

    refused = project.run("apply", "--prune", "--yes")
    assert refused.exit_code == 3, refused.output
    assert sorted(org.names()) == ["Unused", "Used"]  # nothing written

    forced = project.run("apply", "--prune", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert "Used" not in org.names()
    assert ruleset_of(org, OUTBOUND) is None


def test_a_saved_delete_is_stale_when_a_sequence_started_using_the_ruleset(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    old = org.create("Old")
    org.create("Other")
    project.ruleset("Other")
    assert project.run("plan", "--prune", "--out", "plan.json").exit_code == 0
    assign(org, CLOSED_LOST, old)  # someone attaches a sequence after the review
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert "'Old' (id 1) is now used by 1 sequence: 'Closed lost - re-engage' (id 4)" in (
        result.stderr
    )
    assert "Old" in org.names()


def test_markdown_lists_sequence_names_escaped_and_collapsible(
    tmp_path: Path,
) -> None:
    seed = {
        "rulesets": [{"id": 7, "attributes": {"name": "Shared", "includeUnsubscribeLinks": False}}],
        "sequences": [
            {
                "id": 100 + n,
                "attributes": {"name": f"<b>@team</b> [x](http://e.vil) #{n}"},
                "relationships": {"ruleset": {"data": {"type": "ruleset", "id": 7}}},
            }
            for n in range(60)
        ],
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    with EmulatorServer(token="t", seed_path=tmp_path / "seed.json") as server:
        project, _ = api_project(tmp_path / "p", server)
        project.ruleset("Shared", "includeUnsubscribeLinks: true\n")
        markdown = project.run("plan", "--format", "markdown").stdout
        text = project.run("plan").stdout
    assert "<details><summary>Used by 60 sequences</summary>" in markdown
    assert "<b>@team" not in markdown and "](http" not in markdown
    assert "&#60;b&#62;@&#8203;team" in markdown
    assert "- … and 10 more (see the plan JSON)" in markdown
    assert "| 1 | 60 |" in markdown  # fields, sequences
    assert "and 55 more" in text  # text names a handful, then counts


def test_describe_collapses_beyond_a_handful() -> None:
    refs = [SequenceRef(id=i, name=f"S{i}") for i in range(1, 9)]
    assert describe(refs) == (
        "8 sequences: 'S1' (id 1), 'S2' (id 2), 'S3' (id 3), 'S4' (id 4), 'S5' (id 5) and 3 more"
    )


def test_ruleset_ids_are_chunked_so_urls_stay_short() -> None:
    chunks = list(id_chunks(range(1, 2501)))
    assert [len(c) for c in chunks] == [IDS_PER_REQUEST, IDS_PER_REQUEST, 500]
    wide = list(id_chunks(range(10**9, 10**9 + 1500)))
    assert all(len(",".join(map(str, c))) <= QUERY_CHARS for c in wide)
    assert sorted(i for c in wide for i in c) == list(range(10**9, 10**9 + 1500))


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A seeded emulator file: each test starts its own server with the scopes it needs."""
    data = {
        "rulesets": [
            {"id": 1, "attributes": {"name": "Edit me", "includeUnsubscribeLinks": False}},
            {"id": 2, "attributes": {"name": "Undeclared"}},
        ],
        "sequences": [
            {
                "id": 9,
                "attributes": {"name": "Uses edit me"},
                "relationships": {"ruleset": {"data": {"type": "ruleset", "id": 1}}},
            }
        ],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(data))
    return path


def run_with_scopes(
    tmp_path: Path, seed: Path, scopes: str, *args: str, prune: bool = False
) -> tuple[Any, Any, Any]:
    with EmulatorServer(token="t", seed_path=seed, scopes=scopes) as server:
        project, org = api_project(tmp_path / "p", server)
        project.ruleset("Edit me", "includeUnsubscribeLinks: true\n")
        result = project.run(*args)
        stats = org.stats()
        rulesets = org.http.get(f"{org.api_url}/rulesets").json()
    return result, stats, rulesets


def test_an_update_the_token_may_not_make_is_refused_before_writing(
    seed: Path, tmp_path: Path
) -> None:
    scopes = "rulesets.read sequences.read"
    plan, _, _ = run_with_scopes(tmp_path, seed, scopes, "plan")
    assert plan.exit_code == 3, plan.output
    assert "NOT ALLOWED" in plan.stdout
    assert "'rulesets.write'" in plan.stderr

    applied, stats, _ = run_with_scopes(tmp_path, seed, scopes, "apply", "--yes", "--force")
    assert applied.exit_code == 3, applied.output
    assert "updates 'Edit me' (id 1), which these credentials may not" in applied.stderr
    assert "'rulesets.write'" in applied.stderr
    assert stats["writes"] == 0


def test_a_delete_the_token_may_not_make_names_the_delete_scope(seed: Path, tmp_path: Path) -> None:
    scopes = "rulesets.read rulesets.write sequences.read"
    result, stats, _ = run_with_scopes(tmp_path, seed, scopes, "apply", "--yes", "--prune")
    assert result.exit_code == 3, result.output
    assert "deletes 'Undeclared' (id 2), which these credentials may not" in result.stderr
    assert "'rulesets.delete'" in result.stderr
    assert stats["writes"] == 0


def test_without_sequences_read_the_blast_radius_is_unknown_and_a_delete_unsafe(
    seed: Path, tmp_path: Path
) -> None:
    scopes = "rulesets.all"
    result, _, _ = run_with_scopes(tmp_path, seed, scopes, "plan", "--prune")
    assert result.exit_code == 3, result.output
    assert "'sequences.read'" in result.stderr
    assert "used by: unknown" in result.stdout
    assert "deletes 'Undeclared', but which sequences use it could not be read" in result.stderr
