"""The desired ruleset (engine/desired.py): where its problems point, which of its fields are
references, and the name patterns of `manage`, `protect` and `--target`."""

from __future__ import annotations

import pytest

from rulesync.desired import Desired, matches
from rulesync.references import kinds_named


def item(**positions: object) -> Desired:
    return Desired(
        name="Inbound",
        previous_names=(),
        fields={"owner": "ada@example.com", "stepOverridesEnabled": True, "startedStage": None},
        source="rulesets/inbound.yaml:7",
        positions={"owner": ("rulesync.yaml", 12, 5)},
        file_positions={"owner": (9, 8), "stepOverridesEnabled": (10, 25)},
        **positions,  # type: ignore[arg-type]
    )


def test_a_problem_points_at_rulesync_yaml_when_an_override_sets_the_field() -> None:
    assert str(item().problem("owner", "no such user")) == (
        "rulesync.yaml:12:5: owner: no such user"
    )


def test_a_problem_points_at_the_fields_value_in_the_file() -> None:
    assert str(item().problem("stepOverridesEnabled", "held")) == (
        "rulesets/inbound.yaml:10:25: stepOverridesEnabled: held"
    )


def test_a_problem_without_a_known_position_points_at_the_document_start() -> None:
    assert str(item().problem("name", "taken")) == "rulesets/inbound.yaml:7:1: name: taken"


def test_a_label_replaces_the_field_name_but_not_its_position() -> None:
    problem = item().problem("stepOverridesEnabled", "twice", label="previousNames")
    assert str(problem) == "rulesets/inbound.yaml:10:25: previousNames: twice"


def test_a_source_without_a_line_is_the_path_alone() -> None:
    bare = Desired(name="A", previous_names=(), fields={}, source="rulesets/a.yaml")
    problem = bare.problem("name", "taken")
    assert (problem.path, problem.line, problem.col) == ("rulesets/a.yaml", 0, 1)
    assert str(problem) == "rulesets/a.yaml: name: taken"


def test_only_relationships_are_references() -> None:
    assert item().relationships == {"owner": "ada@example.com", "startedStage": None}
    # the kinds to list from the API: the users (a name); a null reference needs none
    assert kinds_named([item()]) == {"user"}


@pytest.mark.parametrize(
    ("name", "globs", "expected"),
    [
        ("Inbound", ("*",), True),
        ("", ("*",), True),
        ("Inbound", ("In*",), True),
        ("Inbound", ("in*",), False),  # case-sensitive, like names
        ("Inbound", ("*bound",), True),
        ("Inbound", ("Inboun?",), True),
        ("Inbound", ("Inbou?",), False),  # ? is exactly one character
        ("Inbound", ("Out*", "In*"), True),  # any pattern
        ("Inbound", (), False),
        ("[EMEA] Inbound", ("[EMEA] *",), True),  # brackets are characters
        ("E Inbound", ("[EMEA] *",), False),
        ("a.b", ("a?b",), True),
        ("axb", ("a.b",), False),  # a dot is a dot
        ("two\nlines", ("two*",), True),  # * spans any character
        ("Inbound x", ("Inbound",), False),  # the whole name
    ],
)
def test_name_patterns(name: str, globs: tuple[str, ...], expected: bool) -> None:
    assert matches(name, globs) is expected
