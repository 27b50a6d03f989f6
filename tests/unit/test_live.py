"""Live rulesets read once from JSON:API resources, whatever a server sends."""

from __future__ import annotations

from typing import Any

import pytest

from rulesync.desired import Desired
from rulesync.errors import PlanProblems
from rulesync.fields import RELATIONSHIPS
from rulesync.live import Ref, live_rulesets, ruleset_of
from rulesync.plan import Update
from rulesync.planner import Settings, build_plan
from rulesync.references import References

SETTINGS = Settings(environment="test", api_url="http://api", prune=True)
GOOD: dict[str, Any] = {
    "type": "ruleset",
    "id": "12",
    "attributes": {"name": "A", "stepOverridesEnabled": True},
    "relationships": {
        "owner": {"data": {"type": "user", "id": "4"}},
        "startedStage": {"data": None},
        "repliedStage": {"data": {"type": "stage", "id": "abc"}},
        "finishedStage": "junk",
    },
}


def test_a_listing_keeps_usable_rulesets_and_counts_the_others() -> None:
    listing = live_rulesets(
        [
            GOOD,
            {"id": "²", "attributes": {"name": "Superscript"}},  # a digit int() refuses
            {"id": True, "attributes": {"name": "Bool"}},
            {"attributes": {"name": "No id"}},
            {"id": 5, "attributes": {"name": None}},
            {"id": 6, "attributes": "garbage"},
            {"id": None, "attributes": None},
        ]
    )
    (live,) = listing.rulesets
    assert (live.id, live.name) == (12, "A")
    assert live.attributes == GOOD["attributes"] and live.raw is GOOD
    assert dict(live.relationships) == {
        **dict.fromkeys(RELATIONSHIPS),
        "owner": Ref("user", 4),
        "repliedStage": Ref("stage", "abc"),  # kept as sent: it equals no reference
    }
    assert listing.without_id == ("Superscript", "Bool", "No id")
    assert listing.without_name == (5, 6)
    assert listing.names() == ["A", "Superscript", "Bool", "No id"]
    assert listing.ids() == {12, 5, 6}


def test_relationships_are_the_writable_ones_whatever_else_is_sent() -> None:
    sent = {**GOOD["relationships"], "sequences": {"data": [{"type": "sequence", "id": 1}]}}
    (live,) = live_rulesets([{**GOOD, "relationships": sent}]).rulesets
    assert set(live.relationships) == set(RELATIONSHIPS)
    assert "sequences" not in live.relationships
    assert live.relationships.get("sequences") is None
    (bare,) = live_rulesets([{**GOOD, "relationships": "junk"}]).rulesets
    assert dict(bare.relationships) == dict.fromkeys(RELATIONSHIPS)


def test_a_sequence_with_an_odd_ruleset_id_uses_no_ruleset() -> None:
    def sequence(data: object) -> dict[str, Any]:
        return {"id": 1, "relationships": {"ruleset": {"data": data}}}

    assert ruleset_of(sequence({"type": "ruleset", "id": "7"})) == 7
    assert ruleset_of(sequence({"type": "ruleset", "id": "²"})) is None
    assert ruleset_of(sequence({"type": "ruleset", "id": True})) is None
    assert ruleset_of(sequence(None)) is None


def desired(name: str, pinned: int | None = None) -> Desired:
    return Desired(
        name=name,
        previous_names=(),
        fields={"stepOverridesEnabled": False},
        source=f"{name}.yaml:1",
        pinned_id=pinned,
    )


def test_a_file_naming_a_live_ruleset_without_a_usable_id_is_refused_not_created() -> None:
    live = live_rulesets([{"id": "²", "attributes": {"name": "A"}}])
    with pytest.raises(PlanProblems) as raised:
        build_plan([desired("A")], live, refs=References(), settings=SETTINGS)
    assert "A.yaml:1:1: name: live ruleset 'A' has no usable id" in str(raised.value)


def test_a_pin_to_a_live_ruleset_without_a_usable_name_is_refused() -> None:
    live = live_rulesets([{"id": 9, "attributes": {"name": 3}}])
    with pytest.raises(PlanProblems) as raised:
        build_plan([desired("A", pinned=9)], live, refs=References(), settings=SETTINGS)
    assert "'A': id 9: the live ruleset is outside `manage`" in str(raised.value)


def test_live_rulesets_without_a_usable_id_are_never_deleted() -> None:
    live = live_rulesets([{"id": "x", "attributes": {"name": "Gone"}}, {**GOOD, "id": 3}])
    plan = build_plan([desired("A")], live, refs=References(), settings=SETTINGS)
    (change,) = plan.changes
    assert isinstance(change, Update) and (change.name, change.id) == ("A", 3)
    assert plan.live_managed == 1
