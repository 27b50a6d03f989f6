"""One error tree. The CLI maps each class to its exit code in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in a file: rendered as ``PATH:LINE:COL: FIELD: message``."""

    path: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class RulesyncError(Exception):
    """Base of every error a user can see. ``exit_code`` follows SPEC §4."""

    exit_code = 1


class InvalidFiles(RulesyncError):
    """Ruleset files or configuration are invalid; carries every problem found."""

    def __init__(
        self, problems: Sequence[Problem], *, then: str = "run `rulesync validate` again"
    ) -> None:
        self.problems = list(problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        lines = [str(p) for p in self.problems]
        lines.append(f"{len(self.problems)} {noun} found; fix them and {then}.")
        super().__init__("\n".join(lines))


class PlanProblems(InvalidFiles):
    """Problems only the live org reveals (an unknown stage, a missing id, a duplicate live
    name), each located at the field in the file, like `validate` reports."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems, then="plan again")


class ConfigError(RulesyncError):
    """A problem with rulesync.yaml, the environment or the command line."""


class ApiError(RulesyncError):
    """The API answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int | None = None,
        errors: Sequence[dict[str, object]] = (),
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.errors = list(errors)
        super().__init__(message)


class OutcomeUnknown(ApiError):
    """A write was sent but its answer was lost (timeout, dropped connection, 5xx)."""


class AuthError(ApiError):
    """Missing or rejected credentials."""


class RateLimited(ApiError):
    """The API's request budget is used up until ``reset_at`` (epoch seconds), further away
    than the caller agreed to wait (``--max-wait``). Nothing was sent."""

    def __init__(self, message: str, *, reset_at: float, method: str = "", url: str = "") -> None:
        super().__init__(message, method=method, url=url, status=429)
        self.reset_at = reset_at


class UnknownReference(RulesyncError):
    """A stage, task priority or user named in a file does not exist."""


class PlanError(RulesyncError):
    """Desired and live state cannot be reconciled without guessing (e.g. duplicate live names)."""


class UnsafePlan(RulesyncError):
    """The plan breaks a safety rule (prune, protect, threshold)."""

    exit_code = 3


class StalePlan(RulesyncError):
    """A saved plan no longer matches the live org."""

    exit_code = 3


class ApplyFailed(RulesyncError):
    """Some changes failed; the others were applied."""

    exit_code = 4
