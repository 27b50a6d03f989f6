"""Machine-readable output for CI and scripts: GitHub annotations, validate and apply reports.

Pure functions returning strings; `cli.py` decides when to print them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rulesync.errors import Problem

if TYPE_CHECKING:  # validate reports without the API side
    from rulesync.applier import Report
    from rulesync.plan import Change, Plan


def _data(text: str) -> str:
    """A workflow command's message, escaped as the runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(problem: Problem, workspace: str = "") -> str:
    """``::error file=PATH,line=L,col=C,title=FIELD::message``: shown on the pull request's diff.

    GitHub wants PATH relative to the repository (``workspace``), wherever rulesync ran."""
    path = problem.path
    if workspace:
        full = os.path.abspath(path)
        if os.path.commonpath([full, os.path.abspath(workspace)]) == os.path.abspath(workspace):
            path = os.path.relpath(full, workspace)
    props = [f"file={_property(path)}"]
    if problem.line:
        props += [f"line={problem.line}", f"col={problem.col}"]
    if problem.field:
        props.append(f"title={_property(problem.field)}")
    return f"::error {','.join(props)}::{_data(problem.message)}"


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line or None,
        "col": problem.col or None,
        "field": problem.field or None,
        "message": problem.message,
    }


def validate_json(problems: Sequence[Problem], rulesets: int, environments: Iterable[str]) -> str:
    return json.dumps(
        {
            "valid": not problems,
            "rulesets": rulesets if not problems else None,
            "environments": list(environments),
            "problems": [problem_json(p) for p in problems],
        },
        indent=2,
        ensure_ascii=False,
    )


def _change(change: Change) -> dict[str, str | int | None]:
    return {"action": change.action, "name": change.name, "id": _id(change)}


def _id(change: Change) -> int | None:
    """The ruleset's id (the sequence's for assign and detach); a create has none yet."""
    return None if change.action == "create" else change.id


def refused_json(plan: Plan, reason: str) -> str:
    """The apply report when the whole plan was refused: nothing started."""
    from rulesync.applier import Report

    return apply_json(plan, Report(skipped=list(plan.changes)), 0, refused=reason)


def apply_json(plan: Plan, report: Report, api_requests: int, *, refused: str = "") -> str:
    """The apply report: what was applied, what failed and why, what was not started."""
    return json.dumps(
        {
            "environment": plan.environment,
            "success": report.success,
            "interrupted": report.interrupted,
            "applied": [
                {**_change(o.change), "id": o.resource_id or _id(o.change)} for o in report.applied
            ],
            "failed": [{**_change(o.change), "detail": o.detail} for o in report.failed],
            "not_started": [_change(c) for c in report.skipped],
            "verify_errors": list(report.verify_errors),
            "refused": refused or None,
            "api_requests": api_requests,
        },
        indent=2,
        ensure_ascii=False,
    )
