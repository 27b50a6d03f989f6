"""Adopting a messy org: export writes every live ruleset once, and planning right after
shows no change (SPEC §4 `export`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from rulesync.emulator.server import EmulatorServer
from tests.helpers import Org, Project, api_project

LONG = "Long name " + "x" * 245  # 255 characters: the longest a file may hold
HOSTILE = [
    "A b",
    "a-b",
    "!!!",
    "???",
    "a/b/../../etc/passwd",
    "..",
    "line\nbreak",
    "  padded  ",
    LONG,
    "Входящие лиды",
    "受信リード",
    "🚀 Launch",
    "yes",
    "con",
    "#comment",
    "- dash",
    '"quoted"',
    "tab\there",
    "null",
    "2w",
    "key: value",
    "Ünïcödé Ñame",
]
DUPLICATE = "Inbound"


def _ruleset(rid: int, name: str, **attributes: Any) -> dict[str, Any]:
    rels = attributes.pop("rels", {})
    return {
        "id": rid,
        "attributes": {"name": name, **attributes},
        "relationships": {
            rel: {"data": None if ref is None else {"type": ref[0], "id": ref[1]}}
            for rel, ref in rels.items()
        },
    }


def messy_seed() -> dict[str, Any]:
    rulesets = [
        _ruleset(
            100 + i,
            name,
            includeUnsubscribeLinks=[True, False, None][i % 3],
            autoResumeOotoProspectsIn=[259200, 1209600, 90, 0][i % 4],
            rels={"owner": ("user", [1, 2, 3, 4][i % 4])},
        )
        for i, name in enumerate(HOSTILE)
    ]
    rulesets += [
        _ruleset(
            200,
            DUPLICATE,
            permitDuplicateProspects="disallow",
            rels={"startedStage": ("stage", 9), "deliveredStage": ("stage", 999)},
        ),
        _ruleset(201, DUPLICATE, permitDuplicateProspects="allow", rels={"owner": None}),
        _ruleset(
            202,
            "Legacy values",
            callOptOutAction="a much too long value",
            sequenceExclusivity="sometimes",
            minimumProspectTouchedInterval=604800,
            rels={"owner": ("user", 5), "startedStage": ("stage", 2)},
        ),
    ]
    return {
        "stages": [
            {"id": 2, "name": "Approaching"},
            {"id": 3, "name": "Replied"},
            {"id": 9, "name": "Replied"},
            {"id": 10, "name": "Входящие"},
        ],
        "users": [
            {"id": 1, "email": "Ada@Example.com"},
            {"id": 2, "email": "revops@example.com"},
            {"id": 3, "email": "SAM@example.com"},
            {"id": 4, "email": "dup@example.com"},
            {"id": 5, "email": "DUP@example.com"},
        ],
        "rulesets": rulesets,
    }


LIVE_COUNT = len(HOSTILE) + 3


@pytest.fixture
def messy(tmp_path: Path) -> Iterator[tuple[Project, Org]]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(messy_seed()), encoding="utf-8")
    with EmulatorServer(token="t", seed_path=seed) as server:
        project, org = api_project(tmp_path / "org", server)
        project.configure(
            """\
            defaults: {includeUnsubscribeLinks: true}
            """
        )
        config = project.root / "rulesync.yaml"
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                "auth: {access_token_env: RULESYNC_TEST_TOKEN}",
                "auth: {access_token_env: RULESYNC_TEST_TOKEN}\n"
                "    defaults: {owner: ada@example.com, autoResumeOotoProspectsIn: 3d}",
            ),
            encoding="utf-8",
        )
        yield project, org


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def declared_ids(folder: Path, org: Org) -> Counter[int]:
    """Which live ruleset each document of the folder declares (by `id:`, else by name)."""
    by_name: dict[str, list[int]] = {}
    for resource in org.rulesets():
        by_name.setdefault(resource["attributes"]["name"], []).append(int(resource["id"]))  # type: ignore[index, call-overload]
    ids: Counter[int] = Counter()
    for path in folder.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if "id" in doc:
                ids[doc["id"]] += 1
            else:
                (only,) = by_name[doc["name"]]
                ids[only] += 1
    return ids


def test_a_messy_org_is_adopted_with_no_changes_and_exports_byte_identical(
    messy: tuple[Project, Org],
) -> None:
    project, org = messy
    result = project.run("export")
    assert result.exit_code == 0, result.output
    assert (
        f"Exported {LIVE_COUNT} rulesets to rulesets/: {LIVE_COUNT} new files, 0 updated,"
        " 0 already up to date; 0 skipped, 2 warnings." in result.stdout
    )
    folder = project.root / "rulesets"
    written = tree(folder)
    assert len(written) == LIVE_COUNT
    assert all(set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-.") for name in written)
    ids = declared_ids(folder, org)
    assert set(ids.values()) == {1} and sorted(ids) == sorted(
        int(str(r["id"])) for r in org.rulesets()
    )
    everything = {str(p.relative_to(project.root.parent)) for p in project.root.parent.rglob("*")}
    assert {p for p in everything if not p.startswith(("org/rulesets/", "org/.rulesync"))} == {
        "seed.json",
        "org",
        "org/rulesync.yaml",
        "org/rulesets",
    }  # nothing written outside the folder, whatever the names say

    plan = project.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert plan.stdout.rstrip().endswith("No changes.")
    assert "2 live rulesets are named 'Inbound' (ids 200, 201); each file pins one" in plan.stderr

    again = project.run("export", "--out-dir", "again")
    assert again.exit_code == 0, again.output
    assert tree(project.root / "again") == written  # same names, same bytes
    overwrite = project.run("export", "--overwrite")
    assert overwrite.exit_code == 0, overwrite.output
    assert f"0 new files, 0 updated, {LIVE_COUNT} already up to date" in overwrite.stdout
    assert tree(folder) == written


def test_exported_files_read_as_a_person_would_write_them(messy: tuple[Project, Org]) -> None:
    project, _ = messy
    assert project.run("export").exit_code == 0
    folder = project.root / "rulesets"
    names = set(tree(folder))
    # readable slugs, transliterated scripts, ids only where names collide or say nothing
    assert {
        "a-b-100.yaml",
        "a-b-101.yaml",
        "ruleset-102.yaml",
        "ruleset-103.yaml",
        "a-b-etc-passwd.yaml",
        "vkhodyashchie-lidy.yaml",
        "shouxinrido.yaml",
        "rocket-launch.yaml",
        "con-ruleset.yaml",
        "inbound-200.yaml",
        "inbound-201.yaml",
    } <= names
    text = (folder / "inbound-200.yaml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../ruleset.schema.json\n")
    assert "name: Inbound\nid: 200\npermitDuplicateProspects: disallow\n" in text
    assert 'startedStage: {id: 9}  # stage "Replied": 2 share this name\n' in text
    assert "deliveredStage: {id: 999}  # stage 999 is not in the org's list\n" in text
    # env defaults give 3d and ada@example.com: live null must be stated as null
    assert "autoResumeOotoProspectsIn: null\nowner: null\n" in text
    long_file = next(folder.glob("long-name-*.yaml")).read_text(encoding="utf-8")
    assert f"name: {LONG}\n" in long_file  # one line, however long
    assert 'name: "line\\nbreak"\n' in (folder / "line-break.yaml").read_text(encoding="utf-8")
    assert 'name: "yes"\n' in (folder / "yes.yaml").read_text(encoding="utf-8")
    # Ada@Example.com is the env default ada@example.com: nothing to state
    assert "owner" not in (folder / "a-b-100.yaml").read_text(encoding="utf-8")
    assert "owner: SAM@example.com\n" in (folder / "comment.yaml").read_text(encoding="utf-8")
    assert "autoResumeOotoProspectsIn: 2w\n" in (folder / "a-b-101.yaml").read_text(
        encoding="utf-8"
    )
    # two users whose emails differ only in case are ambiguous: by id, with a comment
    assert 'owner: {id: 5}  # user "DUP@example.com": 2 share this email (ignoring case)' in (
        (folder / "legacy-values.yaml").read_text(encoding="utf-8")
    )


def test_one_edit_after_adoption_is_a_one_field_update(messy: tuple[Project, Org]) -> None:
    project, _ = messy
    assert project.run("export").exit_code == 0
    path = project.root / "rulesets" / "a-b-101.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "autoResumeOotoProspectsIn: 2w", "autoResumeOotoProspectsIn: 3w"
        ),
        encoding="utf-8",
    )
    result = project.run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["summary"] == {
        "create": 0,
        "update": 1,
        "assign": 0,
        "detach": 0,
        "delete": 0,
        "unchanged": LIVE_COUNT - 1,
    }
    (change,) = plan["changes"]
    assert (change["name"], change["id"]) == ("a-b", 101)
    assert change["patch"] == [
        {"op": "replace", "path": "/attributes/autoResumeOotoProspectsIn", "value": 1814400}
    ]


def test_held_values_plan_no_change_until_edited_and_validate_says_why(
    messy: tuple[Project, Org],
) -> None:
    project, org = messy
    exported = project.run("export")
    assert (
        "Warning: 'Legacy values' (id 202): callOptOutAction: Outreach holds 'a much too long"
        " value', which it would refuse on write (at most 4 characters" in exported.stderr
    )
    path = project.root / "rulesets" / "legacy-values.yaml"
    assert "callOptOutAction: {held: a much too long value}  # Outreach holds" in (
        path.read_text(encoding="utf-8")
    )
    valid = project.run("validate")
    assert valid.exit_code == 0, valid.output
    assert (
        "rulesets/legacy-values.yaml:10:26: callOptOutAction: held as Outreach has it; it would"
        " be refused on write (at most 4 characters, got 'a much too long value')"
    ) in valid.stderr
    # sequenceExclusivity too (below permitDuplicateProspects, which Outreach always holds)
    assert "rulesets/legacy-values.yaml:6:" in valid.stderr

    org.update(202, callOptOutAction="no")  # changed in the Outreach UI
    drifted = project.run("plan")
    assert drifted.exit_code == 1
    assert (
        "rulesets/legacy-values.yaml:10:19: callOptOutAction: 'Legacy values': the plan would"
        " have to send a held value" in (drifted.output)
    )

    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("callOptOutAction: {held: a much too long value}", "callOptOutAction: stop"),
        encoding="utf-8",
    )
    edited = project.run("plan", "--format", "json")
    assert edited.exit_code == 0, edited.output
    (change,) = json.loads(edited.stdout)["changes"]
    assert change["patch"] == [
        {"op": "replace", "path": "/attributes/callOptOutAction", "value": "stop"}
    ]


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


# What Outreach stores on create when a ruleset does not say (the Ruleset page): export writes
# them, as it writes every value live holds, in the documented order.
OUTREACH_DEFAULTS = "permitDuplicateProspects: disallow\nsequenceExclusivity: none\n"

HAND_WRITTEN = """\
# yaml-language-server: $schema=../ruleset.schema.json
# Hand-raisers from the website.
name: Inbound leads
permitDuplicateProspects: disallow
sequenceExclusivity: none
includeUnsubscribeLinks: true   # legal asked for this
autoResumeOotoProspectsIn: 2w   # two weeks, as sales ops wrote it
owner: ADA@example.com          # Ada owns inbound
startedStage: Approaching
---
# A second ruleset in the same file.
name: Webinar
permitDuplicateProspects: disallow
sequenceExclusivity: none
clicksNeededBeforeCallTaskCreated: 2
"""


def test_overwrite_updates_in_place_keeping_comments_and_spelling(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    path = project.write("rulesets/inbound.yaml", HAND_WRITTEN)
    assert project.run("apply", "--yes").exit_code == 0
    rid = org.by_name()["Inbound leads"]["id"]
    org.update(int(str(rid)), includeUnsubscribeLinks=False, opensNeededBeforeCallTaskCreated=3)
    org.create("Brand new", sequenceExclusivity="none")

    result = project.run("export", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "Exported 3 rulesets to rulesets/: 1 new files, 1 updated, 1 already up to date" in (
        result.stdout
    )
    text = path.read_text(encoding="utf-8")
    expected = HAND_WRITTEN.replace(
        "includeUnsubscribeLinks: true   # legal asked for this",
        "includeUnsubscribeLinks: false  # legal asked for this",  # the comment keeps its column
    ).replace(
        "autoResumeOotoProspectsIn: 2w   # two weeks, as sales ops wrote it\n",
        "autoResumeOotoProspectsIn: 2w   # two weeks, as sales ops wrote it\n"
        "opensNeededBeforeCallTaskCreated: 3\n",
    )
    assert text == expected  # one value changed, one added in its place; the rest as written
    assert (project.root / "rulesets" / "brand-new.yaml").exists()
    assert "No changes." in project.run("plan").stdout


def test_export_refuses_when_files_declare_live_rulesets_and_says_how_to_proceed(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    path = project.write("rulesets/inbound.yaml", HAND_WRITTEN)
    assert project.run("apply", "--yes").exit_code == 0
    org.create("Brand new")
    before = path.read_bytes()

    refused = project.run("export")
    assert refused.exit_code == 1
    assert (
        "refusing to overwrite 1 existing file(s) that already declare 2 of these live"
        " rulesets: rulesets/inbound.yaml. Pass --overwrite to update them in place (comments"
        " kept), --missing-only to write only the rulesets no file declares" in refused.output
    )
    assert sorted(p.name for p in (project.root / "rulesets").iterdir()) == ["inbound.yaml"]

    missing = project.run("export", "--missing-only")
    assert missing.exit_code == 0, missing.output
    assert "Exported 1 rulesets to rulesets/: 1 new files" in missing.stdout
    rid = org.by_name()["Inbound leads"]["id"]  # apply creates in parallel: ids vary
    assert f"Skipped: 'Inbound leads' (id {rid}): already declared in rulesets/inbound.yaml" in (
        missing.stderr
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in (project.root / "rulesets").iterdir()) == [
        "brand-new.yaml",
        "inbound.yaml",
    ]
    assert "No changes." in project.run("plan").stdout


def test_export_target_writes_only_the_named_rulesets(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Inbound leads")
    org.create("Outbound")
    result = project.run("export", "--target", "Inbound*")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (project.root / "rulesets").iterdir()] == ["inbound-leads.yaml"]
    unknown = project.run("export", "--target", "Outbund")
    assert unknown.exit_code == 1
    assert "--target names no live managed ruleset: Outbund (did you mean Outbound?)" in (
        unknown.output
    )


def test_overwrite_pins_a_file_whose_name_repeats_live_and_writes_the_others(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    first, second = org.create("Twin"), org.create("Twin")
    project.ruleset("Twin", "# our twin\nincludeUnsubscribeLinks: false\n")
    missing = project.run("export", "--missing-only")
    assert missing.exit_code == 0
    assert "rulesets/twin.yaml declares 'Twin' without `id:` and 2 live rulesets" in (
        missing.stderr
    )
    assert len(list((project.root / "rulesets").iterdir())) == 1

    result = project.run("export", "--overwrite")
    assert result.exit_code == 0, result.output
    assert (project.root / "rulesets" / "twin.yaml").read_text(encoding="utf-8") == (
        f"name: Twin\nid: {first}\n{OUTREACH_DEFAULTS}# our twin\nincludeUnsubscribeLinks: null\n"
    )
    other = (project.root / "rulesets" / f"twin-{second}.yaml").read_text(encoding="utf-8")
    assert f"name: Twin\nid: {second}\n" in other
    plan = project.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output


def test_export_never_writes_through_a_symlink_out_of_the_folder(
    setup: tuple[Project, Org], tmp_path: Path
) -> None:
    project, org = setup
    org.create("Inbound leads", includeUnsubscribeLinks=True)
    outside = tmp_path / "outside.yaml"
    outside.write_text("name: Inbound leads\nincludeUnsubscribeLinks: false\n", encoding="utf-8")
    (project.root / "rulesets").mkdir()
    (project.root / "rulesets" / "inbound.yaml").symlink_to(outside)
    result = project.run("export", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "not updated" in result.stderr
    assert outside.read_text(encoding="utf-8").endswith("includeUnsubscribeLinks: false\n")


ROOT = Path(__file__).resolve().parents[2]


def test_shipped_examples_colliding_with_the_export_are_named_and_the_quick_start_works(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    for example in sorted((ROOT / "rulesets").glob("*.yaml")):
        project.write(f"rulesets/{example.name}", example.read_text(encoding="utf-8"))
    assert project.run("apply", "--yes").exit_code == 0  # the quick start, on this org
    org.create("Legacy outbound", includeUnsubscribeLinks=True)

    refused = project.run("export")
    assert refused.exit_code == 1
    assert "rulesets/events.yaml, rulesets/inbound-leads.yaml" in refused.output
    assert "Pass --overwrite" in refused.output and "--missing-only" in refused.output

    missing = project.run("export", "--missing-only")
    assert missing.exit_code == 0, missing.output
    assert "Exported 1 rulesets to rulesets/: 1 new files" in missing.stdout
    assert "legacy-outbound.yaml" in {p.name for p in (project.root / "rulesets").iterdir()}
    assert "No changes." in project.run("plan").stdout
    overwrite = project.run("export", "--overwrite")
    assert overwrite.exit_code == 0, overwrite.output
    assert "0 new files, 0 updated" in overwrite.stdout  # the examples already equal live


def test_live_values_no_file_can_hold_are_left_out_with_a_warning(tmp_path: Path) -> None:
    """A misbehaving API (SPEC §2: live values outside the rules never crash anything)."""
    from rulesync.export import Options, export
    from rulesync.export import Project as ExportProject
    from rulesync.references import References

    live: list[dict[str, Any]] = [
        {
            "id": "7",
            "attributes": {
                "name": "Odd",
                "meetingBookedAction": {"nested": True},
                "clicksNeededBeforeCallTaskCreated": 2.5,
                "smsReceivedAction": "bad \ud800 text",
            },
            "relationships": {"owner": {"data": {"type": "user", "id": "x"}}},
        },
        {"id": 8, "attributes": {"name": "bad \udc00 name"}},
        {"attributes": {"name": "No id"}},
    ]
    project = ExportProject(out_dir=tmp_path, schema=tmp_path / "s.json", root=tmp_path)
    result = export(live, refs=References(), project=project, files=[], options=Options())
    ((path, text),) = result.writes
    assert path == tmp_path / "odd.yaml"
    assert "clicksNeededBeforeCallTaskCreated: {held: 2.5}" in text
    assert "meetingBookedAction" not in text and "owner" not in text and "sms" not in text
    assert result.exported == 1
    joined = "\n".join(result.warnings)
    assert "'Odd' (id 7): meetingBookedAction: live has {'nested': True}, which no file" in joined
    assert "'Odd' (id 7): owner: live has" in joined
    assert "ruleset id 8: its name" in joined and "No id" in joined


class HostileApi:
    """A server that answers like Outreach might on a bad day: odd types, odd labels, text no
    file can hold. Not our emulator, which refuses such data."""

    RULESETS: ClassVar[list[dict[str, Any]]] = [
        {
            "type": "ruleset",
            "id": "31",
            "attributes": {
                "name": "Hostile\u2028line",
                "meetingBookedAction": ["a", "list"],
                "opensNeededBeforeCallTaskCreated": -3,
                "stepOverridesEnabled": "yes",
                "smsReceivedAction": "bad \ud800 text",
            },
            "relationships": {
                "owner": {"data": {"type": "user", "id": "7"}},
                "startedStage": {"data": {"type": "stage", "id": "abc"}},
                "repliedStage": {"data": {"type": "stage", "id": 4}},
            },
        },
        {"type": "ruleset", "id": 32, "attributes": {"name": "bad \udc00 name"}},
        {"type": "ruleset", "id": 33, "attributes": "not a mapping"},
    ]
    LABELS: ClassVar[dict[str, list[dict[str, Any]]]] = {
        "users": [{"type": "user", "id": 7, "attributes": {"email": "Boss@Example.com"}}],
        "stages": [
            {"type": "stage", "id": 4, "attributes": {"name": "Done\n# not: a comment"}},
        ],
        "taskPriorities": [],
    }

    def __init__(self) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.api_url = f"http://127.0.0.1:{self.server.port}/api/v2"

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        from werkzeug.wrappers import Request, Response

        kind = Request(environ).path.rsplit("/", 1)[-1]
        data = self.RULESETS if kind == "rulesets" else self.LABELS.get(kind, [])
        body = json.dumps({"data": data, "links": {}}).encode()  # lone surrogates as \\ud800
        response = Response(body, content_type="application/vnd.api+json")
        return response(environ, start_response)

    def __enter__(self) -> HostileApi:
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def test_export_from_a_misbehaving_api_writes_only_what_files_can_hold(tmp_path: Path) -> None:
    with HostileApi() as api:
        project = Project(tmp_path, env={"TOKEN": "t"})
        project.write(
            "rulesync.yaml",
            f"""\
            default_environment: odd
            environments:
              odd:
                api_url: {api.api_url}
                auth: {{access_token_env: TOKEN}}
            """,
        )
        result = project.run("export")
        assert result.exit_code == 0, result.output
        assert "Exported 1 rulesets to rulesets/: 1 new files" in result.stdout
        ((name, text),) = [(k, v.decode()) for k, v in tree(project.root / "rulesets").items()]
        assert name == "hostile-line.yaml"
        assert 'name: "Hostile\\Lline"\n' in text  # one line: YAML 1.1 breaks lines at U+2028
        assert "opensNeededBeforeCallTaskCreated: {held: -3}" in text
        assert 'stepOverridesEnabled: {held: "yes"}' in text  # a string, not a boolean
        assert "owner: Boss@Example.com\n" in text
        assert 'repliedStage: "Done\\n# not: a comment"\n' in text  # quoted: no comment inside
        assert "meetingBookedAction" not in text and "startedStage" not in text
        for line in ("meetingBookedAction", "startedStage", "smsReceivedAction", "id 32", "33"):
            assert line in result.stderr
        valid = project.run("validate")
        assert valid.exit_code == 0, valid.output
        assert "No changes." in project.run("plan").stdout


def test_a_held_value_is_never_sent_not_even_to_create(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.ruleset("Fresh", "callOptOutAction: {held: never ever}\n")
    result = project.run("apply", "--yes")
    assert result.exit_code == 1
    assert (
        "rulesets/fresh.yaml:2:19: callOptOutAction: 'Fresh': the plan would have to send a"
        " held value"
    ) in (result.output)
    assert "at most 4 characters, got 'never ever'" in result.output
    assert org.writes() == 0


def test_overrides_are_left_to_the_config_and_a_differing_one_is_a_warning(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("Same", callTaskPriority=("taskPriority", 2), includeUnsubscribeLinks=False)
    differs = org.create("Differs", callTaskPriority=("taskPriority", 1))
    config = project.root / "rulesync.yaml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "    overrides:\n"
        + "      Same: {callTaskPriority: Medium}\n"
        + "      Differs: {callTaskPriority: Medium}\n",
        encoding="utf-8",
    )
    result = project.run("export")
    assert result.exit_code == 0, result.output
    same = (project.root / "rulesets" / "same.yaml").read_text(encoding="utf-8")
    assert "callTaskPriority" not in same and "includeUnsubscribeLinks: false" in same
    assert (
        f"'Differs' (id {differs}): callTaskPriority is set by environments.test.overrides, not"
        " as live;"
        " the first plan will change it to the override" in result.stderr
    )
    plan = project.run("plan", "--format", "json")
    assert [c["name"] for c in json.loads(plan.stdout)["changes"]] == ["Differs"]


def test_a_ruleset_renamed_in_outreach_is_renamed_in_its_pinned_file(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    rid = org.create("Old name", includeUnsubscribeLinks=True)
    org.create("Not ours")
    project.configure('manage: ["Old*", "New*"]\n')
    path = project.ruleset("Old name", f"id: {rid}  # pinned\nincludeUnsubscribeLinks: true\n")
    org.update(rid, name="New name")
    result = project.run("export", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "Note: 1 live rulesets are outside `manage`" in result.stderr
    assert path.read_text(encoding="utf-8") == (
        f"name: New name\nid: {rid}  # pinned\n{OUTREACH_DEFAULTS}includeUnsubscribeLinks: true\n"
    )
    assert "No changes." in project.run("plan").stdout
