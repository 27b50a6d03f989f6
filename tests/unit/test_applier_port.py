"""The applier against the `Api` port alone: an org held in memory that answers like a
server gone odd (a ruleset that loses its name), no HTTP. mypy checks that the org fits
the port, as it checks the HTTP client where the CLI passes one in."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import pytest

from rulesync.applier import apply_plan, check_stale
from rulesync.desired import Desired
from rulesync.errors import StalePlan
from rulesync.live import live_rulesets, resource_id, resource_name
from rulesync.plan import Delete, Plan
from rulesync.planner import Settings, build_plan
from rulesync.references import References

SETTINGS = Settings(environment="test", api_url="http://api", prune=True)


class Org:
    """Rulesets in memory behind the Api port; ``after_write`` may spoil what a write left."""

    def __init__(self, *rulesets: dict[str, Any]) -> None:
        self.rulesets = {int(r["id"]): r for r in rulesets}
        self.sent = 0
        self.after_write: dict[str, Any] = {}

    @property
    def requests(self) -> int:
        return self.sent

    def list_all(
        self, kind: str, filters: dict[str, str | list[str]] | None = None
    ) -> list[dict[str, Any]]:
        self.sent += 1
        return copy.deepcopy(list(self.rulesets.values()))

    def list_query(self, kind: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return self.list_all(kind)

    def list_by_ids(self, kind: str, ids: Iterable[int]) -> list[dict[str, Any]]:
        wanted = set(ids)
        return [r for r in self.list_all(kind) if resource_id(r) in wanted]

    def find_by_names(self, kind: str, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        listed = self.list_all(kind)
        return {n: [r for r in listed if resource_name(r) == n] for n in names}

    def find_by_name(self, kind: str, name: str) -> list[dict[str, Any]]:
        return self.find_by_names(kind, [name])[name]

    def create(self, kind: str, resource: dict[str, Any]) -> dict[str, Any]:
        rid = max(self.rulesets, default=0) + 1
        self.rulesets[rid] = {**copy.deepcopy(resource), "id": rid, **self.after_write}
        return copy.deepcopy(self.rulesets[rid])

    def update(self, kind: str, resource_id: int, resource: dict[str, Any]) -> dict[str, Any]:
        stored = self.rulesets[resource_id]
        stored["attributes"].update(resource.get("attributes", {}))
        stored.update(self.after_write)
        return copy.deepcopy(stored)

    def delete(self, kind: str, resource_id: int) -> bool:
        if self.after_write:  # the server keeps it, nameless
            self.rulesets[resource_id].update(self.after_write)
            return True
        return self.rulesets.pop(resource_id, None) is not None


def ruleset(rid: int, name: str, **attrs: Any) -> dict[str, Any]:
    return {"type": "ruleset", "id": rid, "attributes": {"name": name, **attrs}}


def planned(org: Org, *names: str) -> Plan:
    wanted = [
        Desired(name=n, previous_names=(), fields={"stepOverridesEnabled": True}, source="f:1")
        for n in names
    ]
    listing = live_rulesets(org.list_all("rulesets"))
    return build_plan(wanted, listing, refs=References(), settings=SETTINGS)


def test_a_ruleset_that_lost_its_name_since_the_plan_makes_it_stale() -> None:
    org = Org(ruleset(3, "A", stepOverridesEnabled=False))
    plan = planned(org, "A")
    org.rulesets[3]["attributes"]["name"] = None
    with pytest.raises(StalePlan, match="id 3 is the live ruleset None, not 'A'"):
        check_stale(plan, org)


def test_an_update_the_server_leaves_nameless_fails_verification() -> None:
    org = Org(ruleset(3, "A", stepOverridesEnabled=False))
    plan = planned(org, "A")
    org.after_write = {"attributes": {"stepOverridesEnabled": True}}
    report = apply_plan(plan, org)
    assert report.verify_errors == ["'A' (id 3) has no usable name after apply"]


def test_a_delete_the_server_keeps_nameless_fails_verification() -> None:
    org = Org(ruleset(3, "A", stepOverridesEnabled=True), ruleset(4, "Gone"))
    plan = planned(org, "A")
    (change,) = plan.changes
    assert isinstance(change, Delete) and change.id == 4
    org.after_write = {"attributes": {}}
    report = apply_plan(plan, org)
    assert report.verify_errors == ["'Gone' (id 4) still exists"]


def test_a_plan_applies_through_the_port_and_verifies() -> None:
    org = Org(ruleset(3, "A", stepOverridesEnabled=False), ruleset(4, "Gone"))
    report = apply_plan(planned(org, "A", "New"), org)
    assert report.success, report
    assert sorted(resource_name(r) or "" for r in org.rulesets.values()) == ["A", "New"]
    assert org.rulesets[3]["attributes"]["stepOverridesEnabled"] is True
