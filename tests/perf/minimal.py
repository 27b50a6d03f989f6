"""The irreducible plan: a hand-written script that rulesync's `plan` is measured against.

    python tests/perf/minimal.py PROJECT_DIR API_URL TOKEN_ENV

It does only the work no planner can skip, on the same stack rulesync uses: the same list
requests (rulesets 1000 a page, then stages, task priorities and users once each), every
`*.yaml` under PROJECT_DIR/rulesets parsed with PyYAML's C loader, a dict compare of each file
against its live ruleset, and the changes as JSON on stdout. It imports the same libraries
rulesync's CLI imports (requests, pydantic, click, PyYAML), so both pay the same start-up cost.
No validation, no error positions, no safety checks, no fingerprints: that is the point.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click  # noqa: F401  (imported for a fair start-up cost)
import pydantic  # noqa: F401
import requests
import yaml

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
KINDS = {"stage": ("stages", "name"), "taskPriority": ("taskPriorities", "name")}
KINDS["user"] = ("users", "email")
RELS = {
    "owner": "user",
    "callTaskPriority": "taskPriority",
    "callTaskPriorityFromClicks": "taskPriority",
    "callTaskPriorityFromOpens": "taskPriority",
}


def rel_kind(field: str) -> str | None:
    if field.endswith("Stage"):
        return "stage"
    return RELS.get(field)


def seconds(value: Any) -> Any:
    if isinstance(value, str) and value and value[-1] in UNITS and value[:-1].isdigit():
        return int(value[:-1]) * UNITS[value[-1]]
    return value


def list_all(http: requests.Session, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    next_url: str | None = url + "?page[size]=1000&count=false"
    while next_url:
        body = http.get(next_url, timeout=60).json()
        items.extend(body["data"])
        next_url = (body.get("links") or {}).get("next")
    return items


def files(root: str) -> list[str]:
    out: list[str] = []
    for folder, _, names in os.walk(root):
        out.extend(os.path.join(folder, n) for n in names if n.endswith((".yaml", ".yml")))
    return sorted(out)


def main(project: str, api_url: str, token_env: str) -> int:
    http = requests.Session()
    http.headers.update(
        {"Authorization": f"Bearer {os.environ[token_env]}", "Accept": "application/vnd.api+json"}
    )
    live = {r["attributes"]["name"]: r for r in list_all(http, f"{api_url}/rulesets")}
    ids: dict[str, dict[str, int]] = {}
    for kind, (path, label) in KINDS.items():
        ids[kind] = {
            str(r["attributes"][label]): int(r["id"]) for r in list_all(http, f"{api_url}/{path}")
        }
    changes = []
    for path in files(os.path.join(project, "rulesets")):
        with open(path, "rb") as handle:
            docs = list(yaml.load_all(handle, Loader=yaml.CSafeLoader))
        for doc in docs:
            current = live.get(doc["name"])
            if current is None:
                changes.append({"action": "create", "name": doc["name"]})
                continue
            attrs, rels = current["attributes"], current.get("relationships") or {}
            patch = []
            for field, value in doc.items():
                rel = rel_kind(field)
                if rel is None:
                    value = seconds(value)
                    if attrs.get(field) != value:
                        path_ = f"/attributes/{field}"
                        patch.append({"op": "replace", "path": path_, "value": value})
                    continue
                if isinstance(value, str):
                    value = {"type": rel, "id": ids[rel][value]}
                elif isinstance(value, dict):
                    value = {"type": rel, "id": value["id"]}
                data = (rels.get(field) or {}).get("data")
                live_value = {"type": data["type"], "id": int(data["id"])} if data else None
                if live_value != value:
                    path_ = f"/relationships/{field}"
                    patch.append({"op": "replace", "path": path_, "value": value})
            if patch:
                changes.append({"action": "update", "name": doc["name"], "patch": patch})
    json.dump({"changes": changes}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
