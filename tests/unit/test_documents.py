"""Ruleset documents: the live ruleset as the planner reads it, the patch between two
documents, and the fingerprint that tells apply the live ruleset moved since the plan.

The patch is checked against an independent RFC 6902 implementation (jsonpatch), and the
planner's shortcut `matches_live` against the long way round it stands for.
"""

from __future__ import annotations

import re
from typing import Any

import jsonpatch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rulesync.documents import diff, fingerprint, full_document, live_document, matches_live
from rulesync.fields import RELATIONSHIPS
from rulesync.live import LiveRuleset, live_rulesets, resource_id, resource_name, ruleset_of

# ---- helpers: the one place to adapt when live rulesets get their own type -----------------


def resource(
    attributes: Any = None, relationships: Any = None, *, rid: Any = 1, name: Any = "R"
) -> dict[str, Any]:
    """A ruleset as the API sends it (``attributes`` may be anything a broken server sends)."""
    attrs = {"name": name, **attributes} if isinstance(attributes, dict) else attributes
    out: dict[str, Any] = {"type": "ruleset", "id": rid, "attributes": attrs}
    if relationships is not None:
        out["relationships"] = relationships
    return out


def live(attributes: Any = None, relationships: Any = None, *, name: str = "R") -> LiveRuleset:
    """A live ruleset as the planner receives it."""
    listed = resource(attributes if attributes is not None else {}, relationships, name=name)
    (ruleset,) = live_rulesets([listed]).rulesets
    return ruleset


def ref(kind: str, rid: Any) -> dict[str, Any]:
    """A JSON:API relationship object pointing at ``kind`` ``rid``."""
    return {"data": {"type": kind, "id": rid}}


def doc(attributes: dict[str, Any], relationships: dict[str, Any] | None = None) -> Any:
    return {"attributes": attributes, "relationships": relationships or {}}


# ---- the live ruleset as a document --------------------------------------------------------


def test_a_live_document_holds_the_asked_fields_and_null_for_missing_ones() -> None:
    ruleset = live(
        {"stepOverridesEnabled": True, "smsReceivedAction": "x"},
        {"owner": ref("user", 7), "startedStage": {"data": None}},
    )
    fields = ["stepOverridesEnabled", "callTaskPriority", "owner", "startedStage", "missing"]
    assert live_document(ruleset, fields) == {
        "attributes": {"stepOverridesEnabled": True, "missing": None},
        "relationships": {
            "callTaskPriority": None,
            "owner": {"type": "user", "id": 7},
            "startedStage": None,
        },
    }


def test_a_relationship_id_sent_as_a_digit_string_is_the_same_id() -> None:
    ruleset = live({}, {"owner": ref("user", "7"), "startedStage": ref("stage", "x7")})
    assert live_document(ruleset, ["owner", "startedStage"])["relationships"] == {
        "owner": {"type": "user", "id": 7},
        "startedStage": {"type": "stage", "id": "x7"},
    }
    assert matches_live(ruleset, doc({}, {"owner": {"type": "user", "id": 7}}))


def test_broken_live_relationships_read_as_nulls() -> None:
    broken = live({}, ["not", "an", "object"])
    assert live_document(broken, ["name", "owner"]) == doc({"name": "R"}, {"owner": None})
    odd = live({}, {"owner": "odd", "startedStage": {"data": ["a"]}, "completedStage": {}})
    assert live_document(odd, ["owner", "startedStage", "completedStage"]) == doc(
        {}, {"owner": None, "startedStage": None, "completedStage": None}
    )


def test_the_full_document_holds_every_attribute_and_every_writable_relationship() -> None:
    ruleset = live({"zeta": 1, "alpha": "a"}, {"owner": ref("user", 2), "unknownRel": ref("x", 1)})
    full = full_document(ruleset)
    assert list(full["attributes"]) == ["alpha", "name", "zeta"]
    assert full["attributes"] == {"alpha": "a", "name": "R", "zeta": 1}
    assert list(full["relationships"]) == sorted(RELATIONSHIPS)
    assert full["relationships"]["owner"] == {"type": "user", "id": 2}
    assert all(v is None for k, v in full["relationships"].items() if k != "owner")


def test_the_full_document_of_a_ruleset_with_only_a_name() -> None:
    full = full_document(live())
    assert full["attributes"] == {"name": "R"}
    assert list(full["relationships"]) == sorted(RELATIONSHIPS)


# ---- the fingerprint -----------------------------------------------------------------------


def test_a_fingerprint_is_a_sha256_of_the_ruleset() -> None:
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", fingerprint(live({"a": 1})))


def test_the_fingerprint_changes_with_any_field_and_only_then() -> None:
    base = live({"a": 1, "b": [1, 2]}, {"owner": ref("user", 2)})
    same = live({"b": [1, 2], "a": 1}, {"owner": ref("user", "2")})
    assert fingerprint(base) == fingerprint(same)
    for other in (
        live({"a": 2, "b": [1, 2]}, {"owner": ref("user", 2)}),
        live({"a": 1, "b": [2, 1]}, {"owner": ref("user", 2)}),
        live({"a": True, "b": [1, 2]}, {"owner": ref("user", 2)}),
        live({"a": 1, "b": [1, 2], "c": None}, {"owner": ref("user", 2)}),
        live({"a": 1, "b": [1, 2]}, {"owner": ref("user", 3)}),
        live({"a": 1, "b": [1, 2]}, {}),
        live({"a": 1, "b": [1, 2]}, {"owner": ref("user", 2)}, name="S"),
    ):
        assert fingerprint(other) != fingerprint(base), other


# ---- ids and names the API sends (live.py reads them for documents) --------------------


def test_the_fingerprint_ignores_the_order_of_keys_in_a_nested_value() -> None:
    # the server may send an object attribute's keys in any order: the plan is not stale
    one = live({"unknownNewAttribute": {"x": 1, "y": [{"p": 1, "q": 2}]}})
    two = live({"unknownNewAttribute": {"y": [{"q": 2, "p": 1}], "x": 1}})
    assert fingerprint(one) == fingerprint(two)
    assert fingerprint(one) != fingerprint(live({"unknownNewAttribute": {"x": 1, "y": []}}))


def test_a_resource_id_is_a_number_or_a_string_of_digits() -> None:
    assert resource_id(resource(rid=7)) == 7
    assert resource_id(resource(rid="7")) == 7
    for unusable in (True, False, "7a", "", 7.0, None, [7]):
        assert resource_id(resource(rid=unusable)) is None, unusable
    assert resource_id({"type": "ruleset"}) is None


def test_a_resource_name_is_a_string_or_nothing() -> None:
    assert resource_name(resource({}, name="Inbound")) == "Inbound"
    assert resource_name(resource({}, name=7)) is None
    assert resource_name(resource("garbage")) is None
    assert resource_name({"id": 1}) is None


def test_the_ruleset_a_sequence_uses() -> None:
    def sequence(relationships: Any) -> dict[str, Any]:
        return {"type": "sequence", "id": 1, "relationships": relationships}

    assert ruleset_of(sequence({"ruleset": ref("ruleset", 3)})) == 3
    assert ruleset_of(sequence({"ruleset": ref("ruleset", "3")})) == 3
    for none in (
        {"ruleset": {"data": None}},
        {"ruleset": ref("ruleset", True)},
        {"ruleset": ref("ruleset", "x")},
        {},
        "garbage",
    ):
        assert ruleset_of(sequence(none)) is None, none
    assert ruleset_of({"type": "sequence", "id": 1}) is None


# ---- the patch -----------------------------------------------------------------------------

# field names with the characters a JSON pointer escapes
names = st.sampled_from(["a", "b", "owner", "a/b", "x~y", "~1", "stepOverridesEnabled"])
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(["", "x", "1"]),
    st.builds(lambda i: {"type": "user", "id": i}, st.integers(1, 3)),
)
sections = st.dictionaries(names, values, max_size=5)
documents = st.fixed_dictionaries({"attributes": sections, "relationships": sections})


@settings(max_examples=300, deadline=None)
@given(before=documents, after=documents)
@example(before=doc({"a": 1}), after=doc({"a": True}))
@example(before=doc({"a/b": 1, "x~y": 1}), after=doc({"a/b": 2}, {"x~y": 1}))
def test_the_patch_turns_before_into_after(before: Any, after: Any) -> None:
    patch = diff(before, after)
    assert jsonpatch.apply_patch(before, patch) == after
    # one operation per changed field, none for a field that holds the same value
    paths = [op["path"] for op in patch]
    assert len(paths) == len(set(paths))
    for op in patch:
        _, section, name = op["path"].split("/")
        field = name.replace("~1", "/").replace("~0", "~")
        old, new = before[section], after[section]
        if op["op"] == "replace":
            assert field in old and field in new
            assert (type(old[field]), old[field]) != (type(new[field]), new[field])
        else:
            assert op["op"] == ("add" if field not in old else "remove")


def test_true_and_1_differ_in_a_patch() -> None:
    assert diff(doc({"a": 1}), doc({"a": True})) == [
        {"op": "replace", "path": "/attributes/a", "value": True}
    ]
    assert diff(doc({"a": 0}, {"r": None}), doc({"a": 0}, {"r": None})) == []


def test_the_patch_paths_name_each_section() -> None:
    assert diff(doc({"a": 1}, {"owner": None}), doc({"a": 2}, {"owner": {"id": 1}})) == [
        {"op": "replace", "path": "/attributes/a", "value": 2},
        {"op": "replace", "path": "/relationships/owner", "value": {"id": 1}},
    ]


# ---- the planner's shortcut ----------------------------------------------------------------

live_attributes = st.dictionaries(names, values, max_size=4)
live_relationships = st.dictionaries(
    st.sampled_from([*sorted(RELATIONSHIPS)[:3], "a"]),
    st.one_of(
        st.none(),
        st.just({}),
        st.just({"data": None}),
        st.builds(
            lambda t, i: {"data": {"type": t, "id": i}},
            st.sampled_from(["user", "stage"]),
            st.one_of(st.integers(1, 3), st.sampled_from(["1", "2", "x"])),
        ),
    ),
    max_size=3,
)
wanted_relationships = st.dictionaries(
    st.sampled_from([*sorted(RELATIONSHIPS)[:3], "a"]),
    st.one_of(
        st.none(),
        st.builds(
            lambda t, i: {"type": t, "id": i},
            st.sampled_from(["user", "stage"]),
            st.integers(1, 3),
        ),
    ),
    max_size=3,
)
wanted_attributes = st.dictionaries(
    st.sampled_from(["a", "b", "name", sorted(RELATIONSHIPS)[0]]), values, max_size=3
)


@settings(max_examples=400, deadline=None)
@given(
    attrs=live_attributes,
    rels=live_relationships,
    wanted_attrs=wanted_attributes,
    wanted_rels=wanted_relationships,
)
@example(attrs={"a": 1}, rels={}, wanted_attrs={"a": True}, wanted_rels={})
@example(attrs={"a": 1}, rels={}, wanted_attrs={"a": 1, "b": None}, wanted_rels={})
@example(
    attrs={"a": 1},
    rels={"owner": {"data": None}},
    wanted_attrs={"a": 1},
    wanted_rels={"owner": None},
)
# a relationship's name among the attributes, an attribute's name among the relationships
@example(attrs={}, rels={}, wanted_attrs={sorted(RELATIONSHIPS)[0]: None}, wanted_rels={})
@example(attrs={}, rels={}, wanted_attrs={}, wanted_rels={"a": None})
def test_matches_live_answers_as_the_long_way_round(
    attrs: dict[str, Any],
    rels: dict[str, Any],
    wanted_attrs: dict[str, Any],
    wanted_rels: dict[str, Any],
) -> None:
    ruleset = live(attrs, rels)
    after = doc(wanted_attrs, wanted_rels)
    fields = [*wanted_attrs, *wanted_rels]
    assert matches_live(ruleset, after) == (not diff(live_document(ruleset, fields), after))


def test_matches_live_sees_a_changed_attribute_or_relationship() -> None:
    ruleset = live({"a": 1, "b": "x"}, {"owner": ref("user", 2)})
    owner = {"owner": {"type": "user", "id": 2}}
    assert matches_live(ruleset, doc({"a": 1, "b": "x"}, owner))
    assert matches_live(ruleset, doc({"a": 1}, {}))
    assert not matches_live(ruleset, doc({"a": 2, "b": "x"}, owner))
    assert not matches_live(ruleset, doc({"a": True}, {}))
    assert not matches_live(ruleset, doc({"a": 1}, {"owner": {"type": "user", "id": 3}}))
    assert not matches_live(ruleset, doc({"a": 1}, {"owner": None}))
    assert not matches_live(live({}, "garbage"), doc({"a": 1}, {}))
    assert matches_live(live({}, "garbage"), doc({"a": None}, {"owner": None}))
