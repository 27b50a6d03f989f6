"""Property tests through the real CLI: (a) whatever the files and the live org hold, after
apply every field a file declares holds the file's value (worked out here, not by rulesync),
every field it leaves out is untouched, the next plan is empty and a second apply writes
nothing; (b) whatever YAML lands in
`rulesets/`, `rulesync validate` answers with exit 0 or 1 and located messages, never a traceback.

The planner's pure properties (the patch applied to live gives desired) live in test_planner.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulesync.cli import main
from rulesync.emulator.server import EmulatorServer
from rulesync.fields import (
    BOOL_FIELDS,
    COUNT_FIELDS,
    DURATION_FIELDS,
    ENUMS,
    RELATIONSHIPS,
    STORED_DEFAULTS,
    STRING_LIMITS,
)
from tests.conftest import TOKEN
from tests.helpers import Org, Project, cwd

INT_MAX = 2_147_483_647  # the API's columns are 32-bit
STAGES = {1: "Cold", 2: "Approaching", 3: "Replied", 4: "Interested", 8: "Bad Contact Info"}
PRIORITIES = {1: "High", 2: "Medium", 3: "Low"}
USERS = {1: "ada@example.com", 2: "revops@example.com", 3: "sam@example.com"}
REFS = {"stage": STAGES, "taskPriority": PRIORITIES, "user": USERS}
# Names that YAML, JSON:API filters, globs and file names all find awkward.
NAMES = [
    "Inbound",
    "outbound",
    "Café ☕",
    "名前 ルール",
    "a/b~c",
    "with: colon",
    "'quoted'",
    "#hash",
    "- dash",
    "yes",
    "null",
    "123",
    "a, b",
    "  padded  ",
    "x" * 255,
]
CONFIG = """\
default_environment: test
safety: {max_change_percent: 100, min_existing: 0}
environments:
  test:
    api_url: API_URL
    auth: {access_token_env: RULESYNC_TEST_TOKEN}
"""

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# ---- (a) apply converges -------------------------------------------------------------------

text_chars = st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"])


def attribute_values(field: str, *, live: bool) -> st.SearchStrategy[Any]:
    """Valid values of one attribute; files may also write durations as 3d, 2h..."""
    if field in ENUMS:
        values: st.SearchStrategy[Any] = st.sampled_from(ENUMS[field])
    elif field in BOOL_FIELDS:
        values = st.booleans()
    elif field in DURATION_FIELDS:
        seconds = st.integers(0, INT_MAX)
        values = (
            seconds
            if live
            else seconds | st.sampled_from(["90s", "15m", "2h", "3d", "1w", "0", " 45 "])
        )
    elif field in COUNT_FIELDS:
        values = st.integers(0, INT_MAX)
    else:
        values = st.text(text_chars, max_size=STRING_LIMITS[field])
    if field in STORED_DEFAULTS and not live:
        return values  # a file may not ask for null where Outreach always stores a value
    return st.none() | values


def file_ref(field: str) -> st.SearchStrategy[Any]:
    labels = REFS[RELATIONSHIPS[field]]
    by_label = st.sampled_from(sorted(labels.values()))
    if RELATIONSHIPS[field] == "user":  # emails compare without case
        by_label = by_label | st.sampled_from([e.upper() for e in labels.values()])
    return st.none() | by_label | st.builds(lambda i: {"id": i}, st.sampled_from(sorted(labels)))


FILE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    f: attribute_values(f, live=False) for f in (*ENUMS, *BOOL_FIELDS)
}
FILE_FIELDS |= {f: attribute_values(f, live=False) for f in (*DURATION_FIELDS, *COUNT_FIELDS)}
FILE_FIELDS |= {f: attribute_values(f, live=False) for f in STRING_LIMITS}
FILE_FIELDS |= {f: file_ref(f) for f in RELATIONSHIPS}

LIVE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    f: attribute_values(f, live=True) for f in (*ENUMS, *BOOL_FIELDS, *DURATION_FIELDS)
}
LIVE_FIELDS |= {f: attribute_values(f, live=True) for f in (*COUNT_FIELDS, *STRING_LIMITS)}


def live_ref(kind: str) -> st.SearchStrategy[tuple[str, int] | None]:
    return st.none() | st.sampled_from(sorted(REFS[kind])).map(lambda i: (kind, i))


LIVE_FIELDS |= {f: live_ref(kind) for f, kind in RELATIONSHIPS.items()}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(live rulesets by name, file documents by name); some files rename a live-only ruleset."""
    live_names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=6))
    file_names = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=6))
    live = {n: draw(st.fixed_dictionaries({}, optional=LIVE_FIELDS)) for n in live_names}
    files: dict[str, dict[str, Any]] = {}
    renamable = [n for n in live_names if n not in file_names]
    for name in file_names:
        doc: dict[str, Any] = {"name": name}
        rename: bool = draw(st.booleans()) if renamable else False
        if rename:
            doc["previousNames"] = [renamable.pop(draw(st.integers(0, len(renamable) - 1)))]
        doc.update(draw(st.fixed_dictionaries({}, optional=FILE_FIELDS)))
        files[name] = doc
    return live, files


def reset(server: EmulatorServer) -> None:
    response = requests.post(
        f"{server.url}/_emulator/reset", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    response.raise_for_status()


def create(org: Org, name: str, fields: dict[str, Any]) -> None:
    attributes = {k: v for k, v in fields.items() if k not in RELATIONSHIPS}
    relationships = {
        k: {"data": None if v is None else {"type": v[0], "id": v[1]}}
        for k, v in fields.items()
        if k in RELATIONSHIPS
    }
    body = {"type": "ruleset", "attributes": {"name": name, **attributes}}
    response = org.http.post(
        f"{org.api_url}/rulesets", json={"data": {**body, "relationships": relationships}}
    )
    assert response.status_code == 201, response.text


DURATIONS = {"90s": 90, "15m": 900, "2h": 7200, "3d": 259200, "1w": 604800, "0": 0, " 45 ": 45}


def expected(field: str, value: Any) -> Any:
    """What Outreach must hold for a file's value, worked out here without rulesync's code:
    durations in seconds, a reference as (type, id)."""
    if field not in RELATIONSHIPS:
        return DURATIONS.get(value, value) if field in DURATION_FIELDS else value
    if value is None:
        return None
    kind = RELATIONSHIPS[field]
    if isinstance(value, dict):
        return (kind, value["id"])
    (rid,) = [i for i, label in REFS[kind].items() if label.lower() == value.lower()]
    return (kind, rid)


def held(resource: dict[str, Any], field: str) -> Any:
    """A live ruleset's value of one field, references as (type, id)."""
    if field not in RELATIONSHIPS:
        return resource["attributes"].get(field)
    data = (resource.get("relationships") or {}).get(field, {}).get("data")
    return None if data is None else (data["type"], int(data["id"]))


def assert_files_hold_live(
    files: dict[str, dict[str, Any]],
    before: dict[Any, dict[str, Any]],
    after: dict[str, dict[str, Any]],
) -> None:
    """The real invariant of apply: every field a file declares now holds the file's value, and
    every field it leaves out holds what it held before (rulesets that existed)."""
    for name, doc in files.items():
        live = after[name]
        for field in (*FILE_FIELDS, *RELATIONSHIPS):
            if field in doc:
                assert held(live, field) == expected(field, doc[field]), (name, field)
            elif live["id"] in before:
                assert held(live, field) == held(before[live["id"]], field), (name, field)


@pytest.mark.timeout(120)
@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_apply_then_plan_is_empty(
    emulator: EmulatorServer,
    scenario: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]],
) -> None:
    live, files = scenario
    reset(emulator)
    org = Org(emulator.url, emulator.api_url, TOKEN)
    for name, fields in live.items():
        create(org, name, fields)
    # a previous name whose ruleset is live beside the file's own name is kept, not pruned
    kept = {
        old for doc in files.values() if doc["name"] in live for old in doc.get("previousNames", [])
    }
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp), env={"RULESYNC_TEST_TOKEN": TOKEN})
        project.write("rulesync.yaml", CONFIG.replace("API_URL", emulator.api_url))
        (project.root / "rulesets").mkdir()
        for index, doc in enumerate(files.values()):
            text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
            (project.root / "rulesets" / f"r{index}.yaml").write_text(text, encoding="utf-8")
        before = {r["id"]: r for r in org.rulesets()}
        applied = project.run("apply", "--yes", "--prune", "--force")
        assert applied.exit_code == 0, applied.output
        assert_files_hold_live(files, before, org.by_name())
        again = project.run("plan", "--detailed-exitcode", "--prune")
        assert again.exit_code == 0, again.output
        assert sorted(org.names()) == sorted([*files, *kept])
        writes = org.writes()
        reapplied = project.run("apply", "--yes", "--prune", "--force")
        assert reapplied.exit_code == 0 and "No changes." in reapplied.stdout, reapplied.output
        assert org.writes() == writes


# ---- (b) validate never crashes ------------------------------------------------------------

FIELD_NAMES = ["name", "previousNames", *ENUMS, *DURATION_FIELDS, *RELATIONSHIPS, "id", "owner"]
# Control characters, deep nesting, alias bombs and explicit tags on values they cannot read
# have their own tests (expected failures today) at the end of the file.
odd_text = st.text(st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"]))
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30, max_value=10**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_text
    | st.sampled_from(["3d", "90s", "-1", "1w2d", "High", "ada@example.com", "Approaching"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(FIELD_NAMES) | odd_text | st.integers(), inner, max_size=4
        )
    ),
    max_leaves=12,
)
documents = st.dictionaries(st.sampled_from(FIELD_NAMES) | odd_text, values, max_size=8) | values
# Hand-written YAML that no dumper emits: tags, anchors, merges, odd scalars, broken syntax.
SNIPPETS = [
    "name: !!python/object/apply:os.system [echo]\n",
    "name: !custom x\n",
    "name: !!binary aGVsbG8=\n",
    "name: &n x\npreviousNames: [*n, *n]\n",
    "base: &b {includeUnsubscribeLinks: true}\nname: m\n<<: *b\n",
    "name: x\n<<: [1, 2]\n",
    "name: 2001-12-14\npreviousNames: !!set {a, b}\n",
    "? [a, b]\n: 1\nname: y\n",
    "name: x\n1: one\ntrue: yes\nnull: ~\n",
    "name: x\nowner: {id: 0}\nstartedStage: {id: 1.5}\ncallTaskPriority: {id: [1]}\n",
    "name: x\nautoResumeOotoProspectsIn: 0x1F\napplyCompletedStageIn: 1_000\n",
    "name: x\nclicksNeededBeforeCallTaskCreated: .nan\nopensNeededBeforeCallTaskCreated: -.inf\n",
    "name: x\nautoResumeOotoProspectsIn: " + "9" * 400 + "\n",
    'name: "unterminated\n',
    "name: x\n\tbad: tab\n",
    "name: x\n---\n- a list\n---\njust text\n...\n",
    "name: x\n*undefined\n",
    "name: x\nowner: a\nowner: b\n",
    "\ufeffname: bom\n",
    "name: x\nid: 1\ncreatedAt: now\nsequences: []\n",
    "name: [[[[[[[[]]]]]]]]\n",
    "--- |\n  literal\n",
    "%YAML 1.1\n---\nname: directive\n",
    "name: x\nsmsReceivedAction: " + "é" * 300 + "\n",
]


def mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Character edits at relative positions: delete ``cut`` characters, insert ``add``."""
    for position, cut, add in edits:
        at = position % (len(text) + 1)
        text = text[:at] + add + text[at + cut :]
    return text


VALID = (
    "name: Inbound\npreviousNames: [Old]\nowner: ada@example.com\nautoResumeOotoProspectsIn: 3d\n"
)
YAML_BITS = [
    *":-?[]{},&*|>'\"%@`#!\n \t",
    "---",
    "- ",
    "x",
    "\u00e9",
    "9" * 30,
    "!!int ",
    "!!set ",
]
edits = st.lists(
    st.tuples(
        st.integers(0, 200),
        st.integers(0, 3),
        st.lists(st.sampled_from(YAML_BITS), max_size=3).map("".join),
    ),
    max_size=4,
)
yaml_texts = (
    documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True, sort_keys=False))
    | st.lists(documents, min_size=2, max_size=3).map(
        lambda ds: yaml.safe_dump_all(ds, allow_unicode=True, sort_keys=False)
    )
    | st.sampled_from(SNIPPETS)
    | st.builds(mutate, st.sampled_from([VALID, *SNIPPETS]), edits)
)


def validate(root: Path) -> Any:
    with cwd(root):
        return CliRunner().invoke(main, ["validate"], catch_exceptions=True)


def assert_clean_answer(result: Any, files: list[str]) -> None:
    output = result.output
    assert "Traceback" not in output, output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1), output
    if result.exit_code == 1:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        problems, summary = lines[:-1], lines[-1]
        assert "problem" in summary and "found" in summary, output
        assert problems, output
        for line in problems:
            assert any(line.startswith(f"{name}:") for name in files), f"unlocated: {line!r}"


@pytest.mark.timeout(120)
@settings(PROPERTY_SETTINGS, max_examples=200)
@given(texts=st.lists(yaml_texts, min_size=1, max_size=3))
def test_validate_answers_any_yaml_without_a_traceback(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "rulesets").mkdir()
        files = []
        for index, text in enumerate(texts):
            files.append(f"rulesets/f{index}.yaml")
            (root / files[-1]).write_text(text, encoding="utf-8")
        assert_clean_answer(validate(root), files)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"name: x\n\xff\xfe not utf-8\n", id="not-utf8"),
        pytest.param(b"name: x\nowner: \x00\n", id="nul-byte"),
        pytest.param(b"name: x\n" + b"a" * 2_000_000 + b": 1\n", id="huge-key"),
        pytest.param(b"name: [" + b"[" * 50 + b"]" * 50 + b"]\n", id="nested-50"),
    ],
)
def test_validate_subprocess_on_hostile_bytes(tmp_path: Path, content: bytes) -> None:
    """The installed entry point, as CI runs it: located errors, exit 1, no traceback."""
    (tmp_path / "rulesets").mkdir()
    (tmp_path / "rulesets" / "bad.yaml").write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "rulesync", "validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("rulesets/bad.yaml:")
    assert len(result.stderr) < 10_000


# Known gaps, kept as strict expected failures so that fixing them is noticed.


def _validate_one(tmp_path: Path, text: str) -> Any:
    (tmp_path / "rulesets").mkdir()
    (tmp_path / "rulesets" / "bad.yaml").write_text(text, encoding="utf-8")
    return validate(tmp_path)


def test_deep_nesting_is_a_located_error(tmp_path: Path) -> None:
    result = _validate_one(tmp_path, "name: x\npreviousNames: " + "[" * 300 + "]" * 300 + "\n")
    assert_clean_answer(result, ["rulesets/bad.yaml"])


def _alias_bomb() -> str:
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, cur in zip("abcde", "bcdef", strict=True):
        levels.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(levels) + "\nname: x\npreviousNames: *f\n"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_alias_bomb(), id="alias-bomb"),
        pytest.param("name: x\ncallOptOutAction: " + "a" * 1_000_000 + "\n", id="long-value"),
    ],
)
def test_messages_stay_short_whatever_the_value(tmp_path: Path, text: str) -> None:
    result = _validate_one(tmp_path, text)
    assert_clean_answer(result, ["rulesets/bad.yaml"])
    assert len(result.output) < 100_000, f"{len(result.output)} characters of output"


def test_control_character_error_is_one_located_line(tmp_path: Path) -> None:
    result = _validate_one(tmp_path, "name: x\nowner: \x07bell\n")
    assert_clean_answer(result, ["rulesets/bad.yaml"])


def test_key_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    result = _validate_one(tmp_path, 'name: x\n"bad\\nkey": 1\n')
    assert_clean_answer(result, ["rulesets/bad.yaml"])


@pytest.mark.parametrize(
    "text",
    [
        "name: x\npreviousNames: !!set :x\n",
        "name: x\nautoResumeOotoProspectsIn: !!int x\n",
        "name: x\nautoResumeOotoProspectsIn: !!float x\n",
        "name: x\nincludeUnsubscribeLinks: !!bool x\n",
        "name: !!timestamp x\n",
    ],
    ids=["set", "int", "float", "bool", "timestamp"],
)
def test_explicit_tag_on_an_unreadable_value_is_a_located_error(tmp_path: Path, text: str) -> None:
    assert_clean_answer(_validate_one(tmp_path, text), ["rulesets/bad.yaml"])
