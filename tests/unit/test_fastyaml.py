"""The fast reader means exactly what PyYAML means: whenever it accepts a file, PyYAML's safe
loader reads the same documents from it; whatever it is unsure of goes to PyYAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulesync.fastyaml import read_flat, simple_documents
from rulesync.yamlio import load_documents
from tests.properties.test_properties import yaml_texts

ROOT = Path(__file__).resolve().parents[2]


def pyyaml(text: str) -> list[tuple[int, Any]]:
    loader = yaml.CSafeLoader(text)
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said one is there
            docs.append((node.start_mark.line + 1, loader.construct_document(node)))
        return docs
    finally:
        loader.dispose()


def assert_same_as_pyyaml(text: str) -> None:
    fast = simple_documents(text)
    if fast is None:
        return  # not sure: PyYAML reads it (and reports its problems)
    assert fast == pyyaml(text), text
    # the same types too: True == 1 in Python, and a str "1" is not an int 1
    for (_, ours), (_, theirs) in zip(fast, pyyaml(text), strict=True):
        assert [type(v) for v in ours.values()] == [type(v) for v in theirs.values()], text


KEYS = ["name", "owner", "a", "_x", "yes", "no", "null", "on", "Y", "x1", "name", "true"]
VALUES = [
    *"abyn~-?:#@!&*|>%`'\"{}[],.0_",
    "Inbound leads",
    "yes",
    "No",
    "OFF",
    "on",
    "y",
    "n",
    "NULL",
    "Null",
    "null",
    "~",
    "true",
    "True",
    "TRUE",
    "tRUE",
    "0",
    "00",
    "010",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1:30",
    "190:20:30",
    "-5",
    "+5",
    "1.5",
    "1e3",
    "1.0e+3",
    ".inf",
    ".NaN",
    "2024-01-01",
    "2024-01-01 10:00:00",
    "3d",
    "90s",
    "a@b.com",
    "@x",
    "x@",
    "a #b",
    "a#b",
    "a: b",
    "a:b",
    "'quoted'",
    "'it''s'",
    '"double"',
    '"esc\\n"',
    "'a' # c",
    "'a' x",
    "{id: 2}",
    "{ id : 2 }",
    "{id: 02}",
    "{id: 2, x: 1}",
    "[a, b]",
    "<<",
    "=",
    "!!str 5",
    "&a x",
    "*a",
    "a  b",
    "a - b",
    "- a",
    "é",
    "",
]
SEPARATORS = [": ", ":", ":  ", " : ", ":\t", ": '", ': "']
TAILS = ["", " ", "  # note", "#x", " #", "\t"]
INDENTS = ["", "", "", " ", "  "]

lines = st.builds(
    lambda indent, key, sep, value, tail: f"{indent}{key}{sep}{value}{tail}",
    st.sampled_from(INDENTS),
    st.sampled_from(KEYS),
    st.sampled_from(SEPARATORS),
    st.sampled_from(VALUES) | st.text(alphabet="ab yn0123:#'\"-.@{}", max_size=8),
    st.sampled_from(TAILS),
)
# mostly well-formed lines, so that many files take the fast path and are really compared
plain_lines = st.builds(
    lambda key, value, tail: f"{key}: {value}{tail}",
    st.sampled_from(KEYS) | st.from_regex(r"[a-z]{1,3}[0-9]", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 @._+-]{0,8}", fullmatch=True)
    | st.sampled_from(VALUES)
    | st.text(alphabet="ab yn0123:#'\"-.@{}", max_size=8),
    st.sampled_from(["", "", "", *TAILS]),
)
extra = st.sampled_from(
    [
        *["", "# comment", "   # indented comment", "---", "...", "  ", "- x", "stage:", "k:"],
        *["  id: 2", "    id: 3 # c", "  id: 02", "  x: 1", "   id: 4", "  - 1", " id: 0"],
    ]
)
block_ids = st.builds(
    lambda key, indent, value, tail: f"{key}:\n{indent}id: {value}{tail}",
    st.sampled_from(KEYS) | st.from_regex(r"[a-z]{1,3}[0-9]", fullmatch=True),
    st.sampled_from([" ", "  ", "    "]),
    st.sampled_from(["0", "2", "02", "1_0", "x", "null", "{id: 1}", "2 # c", "2#c"]),
    st.sampled_from(["", "", " ", "  # note"]),
)
files = st.lists(
    st.one_of(plain_lines, plain_lines, plain_lines, block_ids, lines, extra), max_size=6
).map(lambda ls: "\n".join(ls) + "\n")


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=files)
def test_generated_files_read_as_pyyaml_reads_them(text: str) -> None:
    assert_same_as_pyyaml(text)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=yaml_texts)
def test_the_validate_fuzz_corpus_reads_as_pyyaml_reads_it(text: str) -> None:
    assert_same_as_pyyaml(text)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("tail", TAILS)
def test_every_tricky_value_reads_as_pyyaml_reads_it(value: str, tail: str) -> None:
    assert_same_as_pyyaml(f"name: x\nkey: {value}{tail}\n")


def test_realistic_files_take_the_fast_path() -> None:
    """Otherwise the fast path silently stops paying for itself."""
    examples = sorted((ROOT / "rulesets").glob("*.yaml"))
    single = [p for p in examples if p.read_text(encoding="utf-8").count("---") == 0]
    assert single
    for path in single:
        text = path.read_text(encoding="utf-8")
        assert simple_documents(text) == pyyaml(text), path
    text = (
        "# yaml-language-server: $schema=../ruleset.schema.json\n"
        "name: EMEA Inbound 00042\n"
        "permitDuplicateProspects: only_if_inactive\n"
        "includeUnsubscribeLinks: true\n"
        "autoResumeOotoProspectsIn: 3d   # seconds, or a duration\n"
        "clicksNeededBeforeCallTaskCreated: 2\n"
        "callOptOutAction: null\n"
        "owner: rep007@example.com\n"
        "startedStage: Approaching\n"
        "deliveredStage: {id: 2}\n"
        "meetingBookedAction: 'finish'\n"
    )
    assert simple_documents(text) == pyyaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "name: x\nstage:\n  id: 2\n",
        "name: x\nstage:\n    id: 2  # Approaching\n  # note\nowner: a@b.c\n",
        "name: x\nstage:\n  id: 2\n\nother:\n id: 3",
    ],
)
def test_relationships_by_id_in_block_style(text: str) -> None:
    fast = simple_documents(text)
    assert fast is not None and fast == pyyaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "name: x\nstage:\n  id: 2\n  x: 1\n",
        "name: x\nstage:\n  id: 2\n    more\n",
        "name: x\nstage:\n\n  id: 2\n",
        "name: x\nstage:\n  id: 2\n  # c\n  y: 1\n",
        "name: a\nname: b\n",  # duplicate: PyYAML's path reports it with both positions
        "name: a\n---\nname: b\n",
        "name: a\n  b\n",  # a continued plain scalar
        "name: a\nlist:\n  - x\n",
        "name: Входящие\n",
        "name: a\r\nx: 1\r\n",
        "name: a\x07\n",
        "\ufeffname: a\n",
        "name: !!str 5\n",
        "yes: a\n",
    ],
)
def test_what_it_is_unsure_of_goes_to_pyyaml(text: str) -> None:
    assert simple_documents(text) is None


def assert_positions_are_pyyamls(text: str) -> None:
    read = read_flat(text)
    if read is None or not read[1]:
        return
    (line, located), *_ = load_documents(text, "x.yaml")[0]
    assert (read[0], read[2]) == (line, located.value_positions), text


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=files)
def test_generated_files_give_the_positions_pyyaml_gives(text: str) -> None:
    """Plan-time problems are located from these positions: they must be PyYAML's marks."""
    assert_positions_are_pyyamls(text)


@pytest.mark.parametrize("value", VALUES)
def test_every_tricky_value_is_where_pyyaml_says(value: str) -> None:
    assert_positions_are_pyyamls(f"# c\n\nname:   x  # n\nkey: {value}\nstage:\n    id: 2\n")


def test_documents_never_share_a_value() -> None:
    """Lines repeat across files and their readings are kept: changing one document's
    `{id: N}` must not change another file's."""
    text = "name: a\nstartedStage: {id: 2}\ndeliveredStage:\n  id: 3\n"
    first, second = read_flat(text), read_flat(text)
    assert first is not None and second is not None
    first[1]["startedStage"]["id"] = 99
    first[1]["deliveredStage"]["id"] = 99
    assert second[1] == {"name": "a", "startedStage": {"id": 2}, "deliveredStage": {"id": 3}}
    assert read_flat(text) == (1, second[1], second[2])
