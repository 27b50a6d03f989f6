"""`sequences: [NAME | {id: N}]` in a ruleset file: exactly those sequences use the ruleset.
End to end over HTTP on the emulator, plus a server that loses an answer on purpose."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.wrappers import Response

from rulesync.emulator import EmulatorServer
from tests.e2e.test_blast_radius import assign, ruleset_of
from tests.helpers import Org, Project, api_project
from tests.proxy import Proxy

# The emulator's default sequences (docs/emulator.md, seed data).
INBOUND, OUTBOUND, WEBINAR, CLOSED_LOST = 1, 2, 3, 4


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def test_a_new_ruleset_gets_its_sequences_in_one_apply(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Keep")
    project.ruleset("Keep")
    project.ruleset("Inbound", "sequences: [Inbound demo request, {id: 3}]\n")

    plan = project.run("plan", "--format", "json")
    assert plan.exit_code == 0, plan.output
    moves = [c for c in json.loads(plan.stdout)["changes"] if c["action"] == "assign"]
    assert moves == [
        {
            "action": "assign",
            "name": "Inbound demo request",
            "id": INBOUND,
            "ruleset_from": None,
            "ruleset_to": {"id": None, "name": "Inbound"},
            "denied": None,
        },
        {
            "action": "assign",
            "name": "Webinar follow-up",
            "id": WEBINAR,
            "ruleset_from": None,
            "ruleset_to": {"id": None, "name": "Inbound"},
            "denied": None,
        },
    ]
    text = project.run("plan", "--out", "plan.json").stdout
    assert "» assign 'Inbound demo request' (sequence 1): no ruleset → 'Inbound' (new)" in text
    assert "sequences: 2 to assign, 0 to detach." in text
    shown = project.run("show", "plan.json")  # the saved plan reads back strictly
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.split("\n")[1:] == text.split("\n")[1:]

    applied = project.run("apply", "plan.json")
    assert applied.exit_code == 0, applied.output
    new_id = int(org.by_name()["Inbound"]["id"])  # type: ignore[call-overload]
    assert ruleset_of(org, INBOUND) == ruleset_of(org, WEBINAR) == new_id
    assert ruleset_of(org, OUTBOUND) is None
    assert org.route("PATCH /api/v2/sequences/{id}") == 2  # one write per sequence

    again = project.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    writes = org.writes()
    assert project.run("apply", "--yes").exit_code == 0
    assert org.writes() == writes  # idempotent: nothing more to write


def test_a_sequence_moves_between_rulesets_and_unlisted_ones_detach_only_with_prune(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    old = org.create("Old")
    new = org.create("New")
    assign(org, OUTBOUND, old)
    assign(org, CLOSED_LOST, new)
    project.ruleset("Old")
    project.ruleset("New", "sequences: [Outbound - VP Sales]\n")

    plan = project.run("plan")
    assert plan.exit_code == 0, plan.output
    assert "» assign 'Outbound - VP Sales' (sequence 2): 'Old' (id 1) → 'New' (id 2)" in (
        plan.stdout
    )
    assert "« detach" not in plan.stdout
    assert "'Closed lost - re-engage' (id 4) uses 'New', whose file does not list it" in (
        plan.stderr
    )

    pruned = project.run("plan", "--prune", "--format", "json")
    detach = [c for c in json.loads(pruned.stdout)["changes"] if c["action"] == "detach"]
    assert detach == [
        {
            "action": "detach",
            "name": "Closed lost - re-engage",
            "id": CLOSED_LOST,
            "ruleset_from": {"id": new, "name": "New"},
            "ruleset_to": None,
            "denied": None,
        }
    ]
    applied = project.run("apply", "--yes", "--prune")
    assert applied.exit_code == 0, applied.output
    assert "1 sequences assigned, 1 detached" in applied.stdout
    assert ruleset_of(org, OUTBOUND) == new
    assert ruleset_of(org, CLOSED_LOST) is None
    assert project.run("plan", "--prune", "--detailed-exitcode").exit_code == 0


def test_deleting_a_ruleset_whose_sequences_all_move_away_is_safe(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    old = org.create("Old")
    org.create("Other")
    assign(org, OUTBOUND, old)
    project.ruleset("Other", "sequences: [Outbound - VP Sales]\n")
    result = project.run("apply", "--yes", "--prune")
    assert result.exit_code == 0, result.output
    assert "Old" not in org.names()
    assert ruleset_of(org, OUTBOUND) == int(org.by_name()["Other"]["id"])  # type: ignore[call-overload]


def seeded(tmp_path: Path, sequences: list[tuple[int, str]]) -> Path:
    seed = {
        "sequences": [{"id": sid, "attributes": {"name": name}} for sid, name in sequences],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    return path


def test_a_name_several_sequences_share_is_a_located_error(tmp_path: Path) -> None:
    seed = seeded(tmp_path, [(1, "Twin"), (2, "Twin"), (3, "Solo")])
    with EmulatorServer(token="t", seed_path=seed) as server:
        project, org = api_project(tmp_path / "p", server)
        project.ruleset(
            "R", "includeUnsubscribeLinks: true\nsequences:\n  - Solo\n  - Twin\n  - {id: 99}\n"
        )
        result = project.run("plan")
        assert org.writes() == 0
    assert result.exit_code == 1, result.output
    assert (
        "rulesets/r.yaml:4:3: sequences: 2 sequences are named 'Twin' (ids 1, 2); write {id: N}"
        in result.stderr
    )
    assert "rulesets/r.yaml:4:3: sequences: no sequence has id 99; fix the id or remove it" in (
        result.stderr
    )


def test_a_sequence_claimed_by_two_files_is_a_located_error(tmp_path: Path) -> None:
    seed = seeded(tmp_path, [(1, "Shared"), (2, "Other")])
    with EmulatorServer(token="t", seed_path=seed) as server:
        project, _ = api_project(tmp_path / "p", server)
        project.ruleset("A", "sequences: [Shared]\n")
        project.ruleset("B", "sequences: [{id: 1}, Nope]\n")
        result = project.run("plan")
    assert result.exit_code == 1, result.output
    assert (
        "rulesets/b.yaml:2:12: sequences: sequence 'Shared' (id 1) is claimed by both 'A'"
        " (rulesets/a.yaml:1) and 'B'" in result.stderr
    )
    assert "rulesets/b.yaml:2:12: sequences: no sequence is named 'Nope'" in result.stderr


def test_sequences_in_a_file_are_checked_offline(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("R", "sequences: [{id: 0}]\n")
    result = project.run("validate")
    assert result.exit_code == 1, result.output
    assert "rulesets/r.yaml:2:13: sequences.0: must be a string, got {'id': 0}" in result.output


def test_assigning_without_sequences_write_is_refused_before_writing(tmp_path: Path) -> None:
    seed = seeded(tmp_path, [(1, "Shared")])
    scopes = "rulesets.all sequences.read"
    with EmulatorServer(token="t", seed_path=seed, scopes=scopes) as server:
        project, org = api_project(tmp_path / "p", server)
        project.ruleset("A", "sequences: [Shared]\n")
        result = project.run("apply", "--yes", "--force")
        writes = org.writes()
    assert result.exit_code == 3, result.output
    assert "assigns 'Shared' (id 1), which these credentials may not" in result.stderr
    assert "'sequences.write'" in result.stderr
    assert writes == 0  # not even the ruleset's create


def test_files_listing_sequences_need_sequences_read(tmp_path: Path) -> None:
    with EmulatorServer(token="t", scopes="rulesets.all") as server:
        project, _ = api_project(tmp_path / "p", server)
        project.ruleset("A", "sequences: [Shared]\n")
        result = project.run("plan")
    assert result.exit_code == 3, result.output
    assert "'sequences.read'" in result.stderr


def test_a_saved_assignment_is_stale_when_the_sequence_moved_meanwhile(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("A")
    other = org.create("B")
    project.ruleset("A", "sequences: [Webinar follow-up]\n")
    project.ruleset("B")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    assign(org, WEBINAR, other)
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert "sequence 'Webinar follow-up' (id 3) now uses ruleset 2, not None" in result.stderr
    assert ruleset_of(org, WEBINAR) == other


class LosesFirstSequencePatch(Proxy):
    """Forwards the first PATCH of a sequence (it is made), then answers 502: the answer lost."""

    lost = 0

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        if (
            environ["REQUEST_METHOD"] == "PATCH"
            and "/sequences/" in environ["PATH_INFO"]
            and not self.lost
        ):
            self.lost += 1
            list(super()._app(environ, lambda *args, **kwargs: None))
            return Response("upstream timed out", status=502)(environ, start_response)
        return super()._app(environ, start_response)


def test_a_lost_answer_to_a_sequence_patch_is_retried_and_verified(
    tmp_path: Path, emulator: Any
) -> None:
    with LosesFirstSequencePatch(emulator.url) as proxy:
        server = SimpleNamespace(url=proxy.url, api_url=proxy.api_url, token=emulator.token)
        project, org = api_project(tmp_path, server)  # type: ignore[arg-type]
        org.create("A")
        project.ruleset("A", "sequences: [Inbound demo request]\n")
        result = project.run("apply", "--yes")
        patches = [s for s in proxy.writes() if s.path.startswith("/api/v2/sequences/")]
        assigned = ruleset_of(org, INBOUND)
    assert result.exit_code == 0, result.output
    assert proxy.lost == 1
    assert len(patches) == 2  # the lost one, and its retry: the same body, nothing else
    assert (
        patches[0].body
        == patches[1].body
        == {
            "data": {
                "type": "sequence",
                "id": INBOUND,
                "relationships": {"ruleset": {"data": {"type": "ruleset", "id": 1}}},
            }
        }
    )
    assert assigned == 1


def test_a_server_that_ignores_the_assignment_is_caught_by_verification(
    tmp_path: Path, emulator: Any
) -> None:
    def ignore_ruleset(method: str, path: str, body: Any) -> Any:
        if method == "PATCH" and path.startswith("/api/v2/sequences/"):
            body["data"].pop("relationships", None)  # answers 200, changes nothing
        return body

    with Proxy(emulator.url) as proxy:
        proxy.tamper = ignore_ruleset
        server = SimpleNamespace(url=proxy.url, api_url=proxy.api_url, token=emulator.token)
        project, org = api_project(tmp_path, server)  # type: ignore[arg-type]
        org.create("A")
        project.ruleset("A", "sequences: [Webinar follow-up]\n")
        result = project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    assert "verify: sequence 'Webinar follow-up' (id 3) uses ruleset None after apply, not 1" in (
        result.stdout
    )
