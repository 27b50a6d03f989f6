"""What apply sends, in which order, and what it reports when the server does not do what it
said: through a recording proxy that can also answer in the server's place (a lost answer,
a write it acknowledges but never makes, a lookup that fails, a re-read that disagrees).

Outreach's documented conventions behind it: a POST is not idempotent, so a lost answer is
resolved by looking the name up (`docs/idempotency.yml`); PATCH and DELETE are, so they are
retried; a sequence's ruleset is its `ruleset` relationship (`openapi-sequences.json`)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.e2e.test_blast_radius import assign, ruleset_of
from tests.helpers import Org, Project, api_project
from tests.proxy import Proxy, Seen

INBOUND, OUTBOUND, WEBINAR = 1, 2, 3  # the emulator's seeded sequences
RULESETS = "/api/v2/rulesets"
LOST = (502, {"errors": [{"title": "Bad Gateway"}]})


@dataclass
class Wired:
    project: Project
    org: Org
    proxy: Proxy

    def since(self, start: int) -> list[Seen]:
        return self.proxy.requests[start:]

    def saved(self) -> dict[str, Any]:
        return dict(json.loads((self.project.root / "plan.json").read_text()))

    def save(self, data: dict[str, Any]) -> None:
        (self.project.root / "plan.json").write_text(json.dumps(data))


@pytest.fixture
def wired(tmp_path: Path, emulator: Any) -> Iterator[Wired]:
    with Proxy(emulator.url) as proxy:
        project, org = api_project(tmp_path, emulator, through=proxy.api_url)
        yield Wired(project, org, proxy)


def query(seen: Seen) -> dict[str, list[str]]:
    return parse_qs(seen.query)


def ids_asked(seen: Seen) -> list[int]:
    return sorted(int(i) for i in query(seen).get("filter[id][]", []))


def names_asked(seen: Seen) -> list[str]:
    return sorted(query(seen).get("filter[name][]", []))


def is_lookup(seen: Seen) -> bool:
    return seen.method == "GET" and seen.path == RULESETS and "filter[name][]" in query(seen)


def every_phase(w: Wired) -> tuple[int, int, int]:
    """Live: 'Before' (renamed to 'After'), 'Keeper' (used by Inbound), 'Gone'. The files:
    rename and edit 'Before', create 'New' for Webinar, move Outbound to 'Keeper' and (prune)
    detach Inbound from it, delete 'Gone'. Saved to plan.json."""
    before = w.org.create("Before", includeUnsubscribeLinks=False, owner=("user", 1))
    keeper = w.org.create("Keeper")
    gone = w.org.create("Gone")
    assign(w.org, INBOUND, keeper)
    w.project.ruleset("After", f"id: {before}\nincludeUnsubscribeLinks: true\nowner: null\n")
    w.project.ruleset("New", "startedStage: Approaching\nsequences: [Webinar follow-up]\n")
    w.project.ruleset("Keeper", "sequences: [Outbound - VP Sales]\n")
    planned = w.project.run("plan", "--prune", "--out", "plan.json")
    assert planned.exit_code == 0, planned.output
    return before, keeper, gone


def test_each_phase_in_order_sends_exactly_its_change_then_everything_is_read_back(
    wired: Wired,
) -> None:
    before, keeper, gone = every_phase(wired)
    new = gone + 1  # the id the emulator gives next
    start = len(wired.proxy.requests)
    result = wired.project.run("apply", "plan.json", "--parallelism", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "Applied: 1 created, 1 updated, 1 deleted, 2 sequences assigned, 1 detached; 0 failed"
        " (14 API requests)."
    )
    assert result.stderr.splitlines() == [
        "[1/6] create 'New': ok",
        "[2/6] update 'After': ok",
        "[3/6] assign 'Outbound - VP Sales': ok",
        "[4/6] assign 'Webinar follow-up': ok",
        "[5/6] detach 'Inbound demo request': ok",
        "[6/6] delete 'Gone': ok",
    ]
    seen = wired.since(start)
    writes = [s for s in seen if s.method != "GET"]
    assert [(s.method, s.path, s.body) for s in writes] == [
        (
            "POST",
            RULESETS,
            {
                "data": {
                    "type": "ruleset",
                    "attributes": {"name": "New"},
                    "relationships": {"startedStage": {"data": {"type": "stage", "id": 2}}},
                }
            },
        ),
        (
            "PATCH",
            f"{RULESETS}/{before}",
            {
                "data": {
                    "type": "ruleset",
                    "id": before,
                    "attributes": {"includeUnsubscribeLinks": True, "name": "After"},
                    "relationships": {"owner": {"data": None}},
                }
            },
        ),
        (
            "PATCH",
            f"/api/v2/sequences/{OUTBOUND}",
            {
                "data": {
                    "type": "sequence",
                    "id": OUTBOUND,
                    "relationships": {"ruleset": {"data": {"type": "ruleset", "id": keeper}}},
                }
            },
        ),
        (  # the ruleset created a moment ago, by the id the POST answered
            "PATCH",
            f"/api/v2/sequences/{WEBINAR}",
            {
                "data": {
                    "type": "sequence",
                    "id": WEBINAR,
                    "relationships": {"ruleset": {"data": {"type": "ruleset", "id": new}}},
                }
            },
        ),
        (
            "PATCH",
            f"/api/v2/sequences/{INBOUND}",
            {
                "data": {
                    "type": "sequence",
                    "id": INBOUND,
                    "relationships": {"ruleset": {"data": None}},
                }
            },
        ),
        ("DELETE", f"{RULESETS}/{gone}", None),
    ]
    # right before the POST, the name to create is looked up once more (another machine)
    post = seen.index(writes[0])
    assert is_lookup(seen[post - 1]) and names_asked(seen[post - 1]) == ["New"]
    assert sum(1 for s in seen[:post] if is_lookup(s)) == 1
    # after the last write: the rulesets read back by id, the names made checked for
    # duplicates, the sequences read back by id; nothing else
    after = seen[seen.index(writes[-1]) + 1 :]
    assert [(s.method, s.path) for s in after] == [
        ("GET", RULESETS),
        ("GET", RULESETS),
        ("GET", "/api/v2/sequences"),
    ]
    assert ids_asked(after[0]) == sorted([before, gone, new])
    assert names_asked(after[1]) == ["After", "New"]
    assert ids_asked(after[2]) == [INBOUND, OUTBOUND, WEBINAR]
    assert ruleset_of(wired.org, WEBINAR) == new
    assert ruleset_of(wired.org, OUTBOUND) == keeper
    assert ruleset_of(wired.org, INBOUND) is None
    assert wired.org.names() == ["After", "Keeper", "New"]


def test_a_plan_without_creates_looks_no_name_up_before_writing(wired: Wired) -> None:
    rid = wired.org.create("U", includeUnsubscribeLinks=False)
    wired.project.ruleset("U", "includeUnsubscribeLinks: true\n")
    start = len(wired.proxy.requests)
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    seen = wired.since(start)
    assert not any(is_lookup(s) for s in seen)
    assert [(s.method, s.path) for s in seen if s.method != "GET"] == [
        ("PATCH", f"{RULESETS}/{rid}")
    ]
    # an update that is no rename: its id is read back, no name is checked for duplicates
    assert [(s.method, s.path, ids_asked(s)) for s in seen[-1:]] == [("GET", RULESETS, [rid])]


def test_only_sequence_moves_are_read_back_as_sequences(wired: Wired) -> None:
    rid = wired.org.create("A")
    wired.project.ruleset("A", "sequences: [Webinar follow-up]\n")
    start = len(wired.proxy.requests)
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith(
        "Applied: 0 created, 0 updated, 0 deleted, 1 sequences assigned, 0 detached; 0 failed"
    )
    seen = wired.since(start)
    last = seen[-1]
    assert (last.method, last.path, ids_asked(last)) == ("GET", "/api/v2/sequences", [WEBINAR])
    assert ruleset_of(wired.org, WEBINAR) == rid


def test_a_remove_in_an_edited_plan_sends_null_whatever_value_it_carries(wired: Wired) -> None:
    rid = wired.org.create("U", includeUnsubscribeLinks=False, stepOverridesEnabled=True)
    wired.project.ruleset("U", "includeUnsubscribeLinks: true\n")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    data = wired.saved()
    (update,) = data["changes"]
    update["before"]["attributes"]["stepOverridesEnabled"] = True
    update["patch"].append(
        {"op": "remove", "path": "/attributes/stepOverridesEnabled", "value": True}
    )
    wired.save(data)
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 0, result.output
    assert [s.body for s in wired.proxy.writes()] == [
        {
            "data": {
                "type": "ruleset",
                "id": rid,
                "attributes": {"includeUnsubscribeLinks": True, "stepOverridesEnabled": None},
            }
        }
    ]


# ---- a saved plan that no longer matches the org ------------------------------------------


def refused(w: Wired, *lines: str) -> None:
    writes = w.org.writes()
    result = w.project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert (
        "Error: the saved plan is stale, nothing was applied:\n"
        + "".join(f"  - {line}\n" for line in lines)
        + "Run `rulesync plan` again and review it."
        in result.stderr
    )
    assert w.org.writes() == writes


@pytest.mark.parametrize("live_managed", [None, 5000])
def test_a_saved_plan_whose_rulesets_moved_is_refused_naming_each(
    wired: Wired, live_managed: int | None
) -> None:
    """Checked by one full listing, or (when the org is large) by id and by name lookups:
    the same answer either way."""
    edited = wired.org.create("Edited", includeUnsubscribeLinks=False)
    renamed = wired.org.create("Renamed live", includeUnsubscribeLinks=False)
    deleted = wired.org.create("Deleted", includeUnsubscribeLinks=False)
    old = wired.org.create("Old", includeUnsubscribeLinks=False)
    pruned = wired.org.create("Abandoned")  # deleted by the plan: first by name, last by phase
    for name in ("Edited", "Renamed live", "Deleted"):
        wired.project.ruleset(name, "includeUnsubscribeLinks: true\n")
    wired.project.ruleset("Taken", f"id: {old}\n")
    wired.project.ruleset("Zebra")  # created by the plan: first by phase, last by name
    assert wired.project.run("plan", "--prune", "--out", "plan.json").exit_code == 0
    if live_managed is not None:
        data = wired.saved()
        data["live_managed"] = live_managed
        wired.save(data)
    wired.org.update(edited, meetingBookedAction="finish")
    wired.org.update(renamed, name="Elsewhere")
    wired.org.http.delete(f"{wired.org.api_url}/rulesets/{deleted}")
    wired.org.update(pruned, name="Abandoned, renamed")
    taken = wired.org.create("Taken")
    created = wired.org.create("Zebra")
    start = len(wired.proxy.requests)
    refused(
        wired,
        f"id {pruned} is the live ruleset 'Abandoned, renamed', not 'Abandoned' as the plan says"
        " (renamed since, or the plan was edited)",
        f"'Deleted' (id {deleted}) was deleted",
        f"'Edited' (id {edited}) changed",
        f"id {renamed} is the live ruleset 'Elsewhere', not 'Renamed live' as the plan says"
        " (renamed since, or the plan was edited)",
        f"'Taken' now exists (id {taken}); 'Old' cannot take it",
        f"'Zebra' now exists (id {created})",
    )
    reads = [s for s in wired.since(start) if s.path == RULESETS]
    if live_managed is None:
        assert [query(s).get("filter[id][]") for s in reads] == [None]
        assert not any(is_lookup(s) for s in reads)
    else:
        assert [ids_asked(s) for s in reads if "filter[id][]" in query(s)] == [
            sorted([edited, renamed, deleted, old, pruned])
        ]
        assert [names_asked(s) for s in reads if is_lookup(s)] == [["Taken", "Zebra"]]
        assert len(reads) == 2


def test_a_rename_someone_already_made_by_hand_is_one_reason_not_two(wired: Wired) -> None:
    """The ruleset itself holding the new name is not "another ruleset has it"."""
    rid = wired.org.create("Before")
    wired.org.create("Other")
    wired.project.ruleset("After", f"id: {rid}\n")
    wired.project.ruleset("Other")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    wired.org.update(rid, name="After")
    refused(
        wired,
        f"id {rid} is the live ruleset 'After', not 'Before' as the plan says"
        " (renamed since, or the plan was edited)",
    )


@pytest.mark.parametrize(
    ("live_managed", "create", "listed"),
    [(999, False, True), (1000, False, False), (1000, True, True), (2000, True, False)],
)
def test_the_staleness_check_lists_everything_only_when_that_is_cheaper(
    wired: Wired, live_managed: int, create: bool, listed: bool
) -> None:
    """A listing costs 1 + live/1000 requests; looking the update up by id costs 1, and the
    name to create 1 more: the listing is taken when it costs no more."""
    rid = wired.org.create("U", includeUnsubscribeLinks=False)
    wired.project.ruleset("U", "includeUnsubscribeLinks: true\n")
    if create:
        wired.project.ruleset("Fresh")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    data = wired.saved()
    data["live_managed"] = live_managed
    wired.save(data)
    start = len(wired.proxy.requests)
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 0, result.output
    first = next(s for s in wired.since(start) if s.path == RULESETS)
    assert ids_asked(first) == ([] if listed else [rid])


def test_a_plan_of_creates_only_in_a_large_org_looks_up_names_not_ids(wired: Wired) -> None:
    wired.project.ruleset("Fresh")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    data = wired.saved()
    data["live_managed"] = 5000
    wired.save(data)
    start = len(wired.proxy.requests)
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 0, result.output
    first = [s for s in wired.since(start) if s.path == RULESETS][:2]
    assert [names_asked(s) for s in first] == [["Fresh"], ["Fresh"]]  # the check, the re-check
    assert not any("filter[id][]" in query(s) for s in first)


def test_a_saved_delete_of_a_ruleset_already_gone_applies(wired: Wired) -> None:
    gone = wired.org.create("Gone")
    wired.org.create("Kept")
    wired.project.ruleset("Kept")
    assert wired.project.run("plan", "--prune", "--out", "plan.json").exit_code == 0
    wired.org.http.delete(f"{wired.org.api_url}/rulesets/{gone}")
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 0, result.output
    assert "Applied: 0 created, 0 updated, 1 deleted; 0 failed" in result.stdout
    assert wired.org.names() == ["Kept"]


def test_a_saved_plan_for_another_org_names_every_reference_that_differs(wired: Wired) -> None:
    wired.project.ruleset("R", "startedStage: Approaching\n")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    data = wired.saved()
    stages = {str(i): f"Stage {i}" for i in range(1, 11)}
    data["references"] = {
        "stage": stages,
        "taskPriority": {"1": "High", "2": "Urgent"},
        "user": {"3": "sam@example.com", "9": "nobody@example.com"},
    }
    wired.save(data)
    writes = wired.org.writes()
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    live = ["Cold", "Approaching", "Replied", "Interested", "Not Interested", "Unresponsive"]
    live += ["Do Not Contact", "Bad Contact Info"]
    shown = [
        f"stage {i} was 'Stage {i}' when planned; here it is {live[i - 1]!r}" for i in range(1, 9)
    ]
    shown += ["stage 9 was 'Stage 9' when planned; here it does not exist"]
    shown += ["stage 10 was 'Stage 10' when planned; here it does not exist"]
    assert (
        "Error: the saved plan belongs to another org or environment, nothing was applied:\n"
        + "".join(f"  - {line}\n" for line in shown)
        + "  - ... and 2 more\n"
        + "Plan again against this environment and review that plan.\n"
    ) in result.stderr
    assert wired.org.writes() == writes


@pytest.mark.parametrize(("differ", "last"), [(10, ""), (11, "  - ... and 1 more\n")])
def test_ten_references_that_differ_are_shown_and_the_rest_counted(
    wired: Wired, differ: int, last: str
) -> None:
    wired.project.ruleset("R", "startedStage: Approaching\n")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    data = wired.saved()
    data["references"] = {"stage": {str(i): f"Stage {i}" for i in range(1, differ + 1)}}
    wired.save(data)
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert (
        "  - stage 10 was 'Stage 10' when planned; here it does not exist\n"
        + last
        + "Plan again against this environment and review that plan.\n"
    ) in result.stderr


def test_a_saved_plan_for_another_org_names_each_kind_of_reference(wired: Wired) -> None:
    wired.project.ruleset("R", "startedStage: Approaching\n")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    data = wired.saved()
    data["references"] = {
        "stage": {"2": "Approaching"},
        "taskPriority": {"2": "Urgent"},
        "user": {"9": "nobody@example.com"},
    }
    wired.save(data)
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert (
        "nothing was applied:\n"
        "  - task priority 2 was 'Urgent' when planned; here it is 'Medium'\n"
        "  - user 9 was 'nobody@example.com' when planned; here it does not exist\n"
        "Plan again"
    ) in result.stderr


def test_a_saved_plan_for_another_environment_says_how_to_apply_it_there(wired: Wired) -> None:
    wired.project.ruleset("R")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    data = wired.saved()
    data["environment"] = "staging"
    data["api_url"] = "https://api.outreach.io/api/v2"
    wired.save(data)
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert (
        "nothing was applied:\n"
        "  - it was planned for environment 'staging', not 'test' (pass --env staging to apply"
        " it there)\n"
        f"  - it was planned against https://api.outreach.io/api/v2, this environment is"
        f" {wired.proxy.api_url}\n"
        "Plan again"
    ) in result.stderr


# ---- creates whose answer is lost (POST is not idempotent) --------------------------------


def post_of(seen: Seen) -> bool:
    return seen.method == "POST" and seen.path == RULESETS


def test_a_create_made_but_its_answer_lost_is_found_by_name_not_sent_again(wired: Wired) -> None:
    wired.project.ruleset("New", "includeUnsubscribeLinks: true\nowner: sam@example.com\n")
    wired.proxy.reply = lambda seen, status, body: LOST if post_of(seen) else (status, body)
    start = len(wired.proxy.requests)
    result = wired.project.run("apply", "--yes")
    wired.proxy.reply = None
    assert result.exit_code == 0, result.output
    assert (
        "WARNING: create 'New': POST /api/v2/rulesets: 502 Bad Gateway; checking whether it"
        " was created\n"
    ) in result.stderr
    seen = wired.since(start)
    assert [s.method for s in seen if s.method != "GET"] == ["POST"]
    post = next(i for i, s in enumerate(seen) if post_of(s))
    assert is_lookup(seen[post + 1]) and names_asked(seen[post + 1]) == ["New"]
    assert wired.org.names() == ["New"]


def test_a_create_made_differently_before_its_answer_was_lost_is_patched(
    wired: Wired,
) -> None:
    """The lookup finds the name, but not every field as planned: the rest is PATCHed."""
    wired.project.ruleset("New", "includeUnsubscribeLinks: true\nowner: sam@example.com\n")

    def partly(method: str, path: str, body: Any) -> Any:
        if method == "POST":
            body["data"].pop("relationships")
        return body

    wired.proxy.tamper = partly
    wired.proxy.reply = lambda seen, status, body: LOST if post_of(seen) else (status, body)
    start = len(wired.proxy.requests)
    result = wired.project.run("apply", "--yes")
    wired.proxy.reply = None
    assert result.exit_code == 0, result.output
    rid = int(str(wired.org.by_name()["New"]["id"]))
    assert [(s.method, s.path, s.body) for s in wired.since(start) if s.method == "PATCH"] == [
        (
            "PATCH",
            f"{RULESETS}/{rid}",
            {
                "data": {
                    "type": "ruleset",
                    "id": rid,
                    "relationships": {"owner": {"data": {"type": "user", "id": 3}}},
                }
            },
        )
    ]
    assert wired.org.by_name()["New"]["relationships"]["owner"] == {  # type: ignore[index]
        "data": {"type": "user", "id": 3}
    }


def test_a_create_lost_before_it_was_made_is_sent_again(wired: Wired) -> None:
    wired.project.ruleset("New")
    posts: list[Seen] = []

    def lose_first(seen: Seen) -> tuple[int, Any] | None:
        if post_of(seen):
            posts.append(seen)
            return LOST if len(posts) == 1 else None
        return None

    wired.proxy.answer = lose_first
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert len(posts) == 2 and posts[0].body == posts[1].body
    assert wired.org.names() == ["New"]


def test_a_lost_create_that_a_racing_apply_also_made_is_reported_with_ids(
    wired: Wired,
) -> None:
    wired.project.ruleset("New")
    made: list[int] = []

    def race(seen: Seen) -> tuple[int, Any] | None:
        if post_of(seen):  # another machine creates it too, and our answer is lost
            made.extend([wired.org.create("New"), wired.org.create("New")])
            return LOST
        return None

    wired.proxy.answer = race
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    assert (
        f"  failed: create 'New': 2 rulesets are named 'New' now (ids {made[0]}, {made[1]});"
        " another apply may have run at the same time: delete the extra ones in Outreach, then"
        " plan again\n"
    ) in result.stdout


def test_sequences_wait_for_their_new_ruleset_and_are_not_assigned_when_it_failed(
    wired: Wired,
) -> None:
    wired.project.ruleset("New", "sequences: [Webinar follow-up, Inbound demo request]\n")
    refusal = (422, {"errors": [{"title": "Validation Error", "detail": "no"}]})
    wired.proxy.answer = lambda seen: refusal if post_of(seen) else None
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    assert "Applied: 0 created, 0 updated, 0 deleted; 3 failed" in result.stdout
    assert "  failed: create 'New': POST /api/v2/rulesets: 422 no\n" in result.stdout
    for name in ("Inbound demo request", "Webinar follow-up"):
        assert (
            f"  failed: assign {name!r}: not assigned: the ruleset 'New' was not created\n"
            in result.stdout
        )
    assert not any(s.path.startswith("/api/v2/sequences/") for s in wired.proxy.writes())


def test_a_failed_lookup_right_before_creating_fails_the_creates_and_sends_none(
    wired: Wired,
) -> None:
    wired.project.ruleset("A")
    wired.project.ruleset("B")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    missing = (404, {"errors": [{"title": "Not Found"}]})
    wired.proxy.answer = lambda seen: missing if is_lookup(seen) else None
    result = wired.project.run("apply", "plan.json")
    assert result.exit_code == 4, result.output
    failures = [line for line in result.stdout.splitlines() if line.startswith("  failed:")]
    assert [line.split(": GET ")[0] for line in failures] == [
        "  failed: create 'A'",
        "  failed: create 'B'",
    ]
    assert all(": 404 Not Found" in line for line in failures)
    assert wired.proxy.writes() == []


# ---- verification: what was applied is read back ------------------------------------------


def test_a_delete_acknowledged_but_not_made_is_reported(wired: Wired) -> None:
    gone = wired.org.create("Gone")
    wired.org.create("Kept")
    wired.project.ruleset("Kept")
    wired.proxy.answer = lambda seen: (204, None) if seen.method == "DELETE" else None
    result = wired.project.run("apply", "--yes", "--prune")
    assert result.exit_code == 4, result.output
    assert result.stdout.endswith(f"  verify: 'Gone' (id {gone}) still exists\n")


def test_each_created_ruleset_missing_when_read_back_is_reported(wired: Wired) -> None:
    wired.project.ruleset("New")
    wired.project.ruleset("Other")

    def hide(seen: Seen, status: int, body: Any) -> tuple[int, Any]:
        if seen.method == "GET" and ids_asked(seen):
            body["data"] = []
        return status, body

    wired.proxy.reply = hide
    result = wired.project.run("apply", "--yes", "--parallelism", "1")
    wired.proxy.reply = None
    ids = {name: r["id"] for name, r in wired.org.by_name().items()}
    assert result.exit_code == 4, result.output
    assert result.stdout.endswith(
        f"  verify: 'New' (id {ids['New']}) is missing after apply\n"
        f"  verify: 'Other' (id {ids['Other']}) is missing after apply\n"
    )


def test_every_field_the_server_did_not_keep_is_named(wired: Wired) -> None:
    rid = wired.org.create("U", includeUnsubscribeLinks=False, stepOverridesEnabled=False)
    wired.project.ruleset(
        "U", "includeUnsubscribeLinks: true\nstepOverridesEnabled: true\nowner: sam@example.com\n"
    )

    def ignore(method: str, path: str, body: Any) -> Any:
        if method == "PATCH":
            body["data"]["attributes"].pop("includeUnsubscribeLinks")
            body["data"].pop("relationships")
        return body

    wired.proxy.tamper = ignore
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    assert result.stdout.endswith(
        f"  verify: 'U' (id {rid}) differs after apply at /attributes/includeUnsubscribeLinks,"
        " /relationships/owner\n"
    )


def test_a_sequence_missing_when_read_back_is_reported(wired: Wired) -> None:
    wired.org.create("A")
    wired.project.ruleset("A", "sequences: [Webinar follow-up]\n")

    def hide(seen: Seen, status: int, body: Any) -> tuple[int, Any]:
        if seen.method == "GET" and seen.path == "/api/v2/sequences" and ids_asked(seen):
            body["data"] = []
        return status, body

    start = len(wired.proxy.requests)
    wired.proxy.reply = hide
    result = wired.project.run("apply", "--yes")
    wired.proxy.reply = None
    assert result.exit_code == 4, result.output
    assert result.stdout.endswith(
        "  verify: sequence 'Webinar follow-up' (id 3) is missing after apply\n"
    )
    assert sum(1 for s in wired.since(start) if s.method == "PATCH") == 1


@pytest.mark.parametrize(
    ("what", "said"),
    [
        ("rulesets by id", "could not verify the applied changes"),
        ("names", "could not check the applied names for duplicates"),
        ("sequences by id", "could not verify the assigned sequences"),
    ],
)
def test_a_read_back_that_fails_is_reported_not_taken_for_success(
    wired: Wired, what: str, said: str
) -> None:
    wired.org.create("Old", includeUnsubscribeLinks=False)
    wired.project.ruleset("New", "sequences: [Webinar follow-up]\n")
    wired.project.ruleset("Old", "includeUnsubscribeLinks: true\n")
    missing = (404, {"errors": [{"title": "Not Found"}]})
    wrote = threading.Event()

    def fail_after_writes(seen: Seen) -> tuple[int, Any] | None:
        if seen.method != "GET":
            wrote.set()
            return None
        if not wrote.is_set():
            return None
        kind = {
            "rulesets by id": seen.path == RULESETS and bool(ids_asked(seen)),
            "names": is_lookup(seen),
            "sequences by id": seen.path == "/api/v2/sequences" and bool(ids_asked(seen)),
        }[what]
        return missing if kind else None

    wired.proxy.answer = fail_after_writes
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    verify = [line for line in result.stdout.splitlines() if line.startswith("  verify:")]
    assert len(verify) == 1, result.output
    assert verify[0].startswith(f"  verify: {said}: GET /api/v2/")
    assert verify[0].endswith(": 404 Not Found")


def test_a_server_that_ignores_the_assignment_is_reported(wired: Wired) -> None:
    rid = wired.org.create("A")

    def ignore(method: str, path: str, body: Any) -> Any:
        if method == "PATCH" and path.startswith("/api/v2/sequences/"):
            body["data"].pop("relationships")  # answers 200, changes nothing
        return body

    wired.project.ruleset("A", "sequences: [Webinar follow-up]\n")
    wired.proxy.tamper = ignore
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    assert result.stdout.endswith(
        f"  verify: sequence 'Webinar follow-up' (id 3) uses ruleset None after apply, not {rid}\n"
    )


# ---- the report as JSON, and Ctrl-C --------------------------------------------------------


def test_the_json_report_of_nothing_to_do_and_of_a_refused_plan(wired: Wired) -> None:
    wired.org.create("Same")
    wired.project.ruleset("Same")
    result = wired.project.run("apply", "--yes", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "environment": "test",
        "success": True,
        "interrupted": False,
        "applied": [],
        "failed": [],
        "not_started": [],
        "verify_errors": [],
        "refused": None,
        "api_requests": 0,
    }
    wired.project.ruleset("New")
    assert wired.project.run("plan", "--out", "plan.json").exit_code == 0
    made = wired.org.create("New")
    result = wired.project.run("apply", "plan.json", "--format", "json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["success"], report["interrupted"], report["applied"]) == (False, False, [])
    assert report["not_started"] == [{"action": "create", "name": "New", "id": None}]
    assert report["refused"] == (
        f"the saved plan is stale, nothing was applied:\n  - 'New' now exists (id {made})\n"
        "Run `rulesync plan` again and review it."
    )


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, as on a terminal (a test run started in the
    background inherits SIGINT ignored)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_lets_the_write_in_flight_finish_and_starts_no_other(wired: Wired) -> None:
    """Ctrl-C arrives while the first create is on the wire: the proxy holds that request for
    a second and a half, and Ctrl-C comes half a second into it."""
    for name in ("A", "B", "C"):
        wired.project.ruleset(name)
    old = wired.org.create("Old", includeUnsubscribeLinks=False)
    wired.project.ruleset("Old", "includeUnsubscribeLinks: true\n")
    gone = wired.org.create("Gone")

    def interrupt(seen: Seen) -> None:
        if post_of(seen) and sum(1 for s in wired.proxy.requests if post_of(s)) == 1:
            time.sleep(0.5)  # the apply is waiting for this answer by now
            os.kill(os.getpid(), signal.SIGINT)  # sent before the answer, never after it
            time.sleep(1.0)
        return None

    wired.proxy.answer = interrupt
    result = wired.project.run(
        "apply", "--yes", "--prune", "--parallelism", "1", "--format", "json"
    )
    assert result.exit_code == 4, result.output
    assert "interrupted: writes in flight finished, the rest were not started; run apply" in (
        result.stderr
    )
    report = json.loads(result.stdout)
    made = wired.org.by_name()["A"]["id"]
    assert report["interrupted"] is True and report["success"] is False
    assert report["applied"] == [{"action": "create", "name": "A", "id": made}]
    assert report["not_started"] == [
        {"action": "create", "name": "B", "id": None},
        {"action": "create", "name": "C", "id": None},
        {"action": "update", "name": "Old", "id": old},
        {"action": "delete", "name": "Gone", "id": gone},
    ]
    assert report["verify_errors"] == []  # nothing is read back after an interruption
    assert [s.method for s in wired.proxy.writes()] == ["POST"]
    assert wired.org.names() == ["A", "Gone", "Old"]


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_outside_a_write_still_ends_with_the_report(wired: Wired) -> None:
    """Ctrl-C while apply looks the new names up right before creating (no write is on the
    wire): nothing is written, and the report says what was not started, as for a Ctrl-C
    during a write; it used to end at once with "Interrupted." and no report."""
    for name in ("A", "B"):
        wired.project.ruleset(name)
    lookups = 0

    def interrupt(seen: Seen) -> None:
        nonlocal lookups
        if seen.method == "GET" and seen.path == RULESETS and "filter" in seen.query:
            lookups += 1
            if lookups == 1:
                os.kill(os.getpid(), signal.SIGINT)  # before the lookup is answered
                time.sleep(0.5)
        return None

    wired.proxy.answer = interrupt
    result = wired.project.run("apply", "--yes", "--format", "json")
    assert result.exit_code == 4, result.output
    assert "interrupted: writes in flight finished, the rest were not started; run apply" in (
        result.stderr
    )
    report = json.loads(result.stdout)
    assert report["interrupted"] is True and report["applied"] == []
    assert report["not_started"] == [
        {"action": "create", "name": "A", "id": None},
        {"action": "create", "name": "B", "id": None},
    ]
    assert wired.proxy.writes() == [] and wired.org.names() == []


# ---- parallelism --------------------------------------------------------------------------


class Counting(Proxy):
    """Counts the writes in flight at once."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.in_flight = 0
        self.most = 0
        self._count = threading.Lock()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "GET":
            return super()._app(environ, start_response)
        with self._count:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            time.sleep(0.05)
            return list(super()._app(environ, start_response))
        finally:
            with self._count:
                self.in_flight -= 1


@pytest.mark.parametrize("width", [1, 3])
def test_writes_in_flight_are_at_most_the_parallelism(
    tmp_path: Path, emulator: Any, width: int
) -> None:
    with Counting(emulator.url) as proxy:
        project, org = api_project(tmp_path, emulator, through=proxy.api_url)
        for i in range(8):
            project.ruleset(f"R{i}")
        result = project.run("apply", "--yes", "--parallelism", str(width))
        assert result.exit_code == 0, result.output
        assert proxy.most == width
        posted = [s.body["data"]["attributes"]["name"] for s in proxy.writes()]
    if width == 1:
        assert posted == [f"R{i}" for i in range(8)]  # one at a time, in plan order
    assert sorted(posted) == [f"R{i}" for i in range(8)]
    assert len(org.names()) == 8


# slow (it waits between attempts): last, so most mutants fail before it
def test_a_create_never_answered_gives_up_after_five_attempts(wired: Wired) -> None:
    wired.project.ruleset("New")
    posted: list[float] = []

    def lose(seen: Seen) -> tuple[int, Any] | None:
        if post_of(seen):
            posted.append(time.monotonic())
            return LOST
        return None

    wired.proxy.answer = lose
    result = wired.project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    assert len(posted) == 5
    assert (
        "  failed: create 'New': gave up after 5 attempts: POST /api/v2/rulesets: 502 Bad Gateway\n"
    ) in result.stdout
    # between attempts it waits 0.2, 0.4, 0.8, 1.6 s (plus one name lookup each)
    gaps = [later - earlier for earlier, later in itertools.pairwise(posted)]
    for gap, wait in zip(gaps, [0.2, 0.4, 0.8, 1.6], strict=True):
        assert wait <= gap < wait + 1.0, gaps
    assert wired.org.names() == []
