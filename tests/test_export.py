"""Adopting a messy org: export writes every live ruleset once, and planning right after
shows no change (SPEC §4 `export`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
