"""`validate`: rulesync.yaml and the ruleset files of every environment, checked offline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rulesync.errors import InvalidFiles, Problem
from rulesync.usecases import Notes, ignore, open_config


@dataclass(frozen=True)
class ValidateResult:
    problems: tuple[Problem, ...]  # every problem, each once, at PATH:LINE:COL
    rulesets: int
    environments: tuple[str, ...]
    folder: str  # the rulesets directory's name
    held: tuple[Problem, ...] = ()  # values kept as Outreach holds them: valid, never sent
    error: InvalidFiles | None = None  # what a failed validation reports (exit 1)

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error is not None else 0


def validate(config_path: Path | None, *, notes: Notes = ignore) -> ValidateResult:
    """Check rulesync.yaml and the ruleset files of every environment, offline."""
    from rulesync.loader import load_desired, read_project

    try:
        config = open_config(config_path, notes)
    except InvalidFiles as err:
        return ValidateResult(tuple(err.problems), 0, (), "", error=err)
    problems: list[Problem] = []
    count = 0
    held: list[Problem] = []
    # each environment reads the same files: report each problem once (a set: a file may
    # hold thousands)
    seen: set[Problem] = set()
    seen_held: set[Problem] = set()
    files = read_project(config)  # each file is read once, whatever the environments
    for env in config.environments.values():
        try:
            desired = load_desired(config, env, files)
        except InvalidFiles as err:
            problems.extend(_first_time(err.problems, seen))
            continue
        count = len(desired)
        held.extend(_first_time((p for d in desired for p in d.held.values()), seen_held))
    return ValidateResult(
        problems=tuple(problems),
        rulesets=count,
        environments=tuple(config.environments),
        folder=config.rulesets_dir.name,
        held=tuple(held),
        error=InvalidFiles(problems) if problems else None,
    )


def _first_time(items: Iterable[Problem], seen: set[Problem]) -> list[Problem]:
    fresh = []
    for item in items:
        if item not in seen:
            seen.add(item)
            fresh.append(item)
    return fresh
