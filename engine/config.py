"""rulesync.yaml -> typed settings: environments, safety policy, defaults and overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    WithJsonSchema,
)

from rulesync.config_checks import config_problems
from rulesync.errors import ConfigError, InvalidFiles, Problem
from rulesync.policy import Policy
from rulesync.suggest import suggest
from rulesync.yamlio import LocatedDict, load_documents, read_text, validation_problems

CONFIG_FILE = "rulesync.yaml"
EMBEDDED = "embedded"
DEFAULT_TOKEN_URL = "https://api.outreach.io/oauth/token"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthModel(_Strict):
    access_token_env: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    refresh_token_env: str | None = None
    token_url: str = DEFAULT_TOKEN_URL


class EnvironmentModel(_Strict):
    # required but for `local` (a missing one is a located problem, see config_checks)
    api_url: Annotated[str | None, WithJsonSchema({"type": "string"})] = None
    auth: AuthModel | None = None
    defaults: dict[str, Any] = {}
    overrides: dict[str, dict[str, Any]] = {}


class SafetyModel(_Strict):
    prune: StrictBool = False
    protect: list[str] = []
    max_change_percent: float = Field(default=30, ge=0, le=100)
    min_existing: StrictInt = Field(default=10, ge=0)


class ConfigModel(_Strict):
    rulesets_dir: str = "rulesets"
    default_environment: str = "local"
    defaults: dict[str, Any] = {}
    manage: list[str] = ["*"]
    safety: SafetyModel = SafetyModel()
    environments: dict[str, EnvironmentModel] = {"local": EnvironmentModel(api_url=EMBEDDED)}


@dataclass(frozen=True)
class Auth:
    access_token_env: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    refresh_token_env: str | None = None
    token_url: str = DEFAULT_TOKEN_URL

    @property
    def uses_oauth(self) -> bool:
        return bool(self.refresh_token_env)


@dataclass(frozen=True)
class Environment:
    name: str
    api_url: str
    auth: Auth | None
    defaults: dict[str, Any]
    overrides: dict[str, dict[str, Any]]

    @property
    def embedded(self) -> bool:
        return self.api_url == EMBEDDED


@dataclass(frozen=True)
class Config:
    path: str  # as shown in messages
    root: Path
    rulesets_dir: Path
    default_environment: str
    defaults: dict[str, Any]
    policy: Policy  # manage and safety:, in the one shape every check reads
    environments: dict[str, Environment]
    document: Any = field(default=None, repr=False, compare=False)  # for error positions

    def environment(self, name: str | None) -> Environment:
        chosen = name or self.default_environment
        if chosen not in self.environments:
            known = ", ".join(sorted(self.environments)) or "none"
            raise ConfigError(
                f"{self.path}: unknown environment {chosen!r}{suggest(chosen, self.environments)}"
                f" (known: {known}); pass --env with one of them or add it under environments:"
            )
        return self.environments[chosen]


def find_config(cwd: Path) -> Path | None:
    """rulesync.yaml in ``cwd`` or the nearest folder above it, as git finds its repository."""
    for folder in (cwd, *cwd.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """Read ``path`` (or the nearest rulesync.yaml from ``cwd`` upward); without one, every
    setting's default."""
    cwd = cwd or Path.cwd()
    if path is None:
        path = find_config(cwd)
        if path is None:
            return _build(ConfigModel(), shown="(defaults)", root=cwd, doc=None)
    shown = _shown(path, cwd)
    if not path.exists():
        raise ConfigError(f"{shown}: config file not found; check --config")
    text, problems = read_text(path, shown)
    if text is None:
        raise InvalidFiles(problems)
    docs, problems = load_documents(text, shown)
    if problems:
        raise InvalidFiles(problems)
    docs = [d for _, d in docs if d is not None]
    if len(docs) > 1:
        raise InvalidFiles([Problem(shown, 0, 0, "", "holds several YAML documents; keep one")])
    doc = docs[0] if docs else LocatedDict()
    if not isinstance(doc, dict):
        raise InvalidFiles([Problem(shown, 1, 1, "", "must be a mapping of settings")])
    try:
        model = ConfigModel.model_validate(doc)
    except ValidationError as err:
        raise InvalidFiles(
            validation_problems(err, doc=doc, path=shown, known_fields=_known_fields(err))
        ) from None
    problems = config_problems(model, doc, shown)
    if model.default_environment not in model.environments:
        line, col = getattr(doc, "value_positions", {}).get("default_environment", (1, 1))
        problems.append(
            Problem(
                shown,
                line,
                col,
                "default_environment",
                f"{model.default_environment!r} is not under environments:"
                f"{suggest(model.default_environment, model.environments)}",
            )
        )
    if problems:
        raise InvalidFiles(sorted(problems, key=lambda p: (p.line, p.col)))
    return _build(model, shown=shown, root=path.parent, doc=doc)


def _known_fields(err: ValidationError) -> list[str]:
    names: list[str] = []
    for cls in (ConfigModel, SafetyModel, EnvironmentModel, AuthModel):
        names.extend(cls.model_fields)
    return names


def _shown(path: Path, cwd: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), cwd.resolve())
    except ValueError:  # another drive
        return str(path)


def _build(model: ConfigModel, *, shown: str, root: Path, doc: Any) -> Config:
    environments = {
        name: Environment(
            name=name,
            api_url=(env.api_url or EMBEDDED).rstrip("/"),
            auth=Auth(**env.auth.model_dump()) if env.auth else None,
            defaults=env.defaults,
            overrides=env.overrides,
        )
        for name, env in model.environments.items()
    }
    return Config(
        path=shown,
        root=root,
        rulesets_dir=(root / model.rulesets_dir),
        default_environment=model.default_environment,
        defaults=model.defaults,
        policy=Policy(
            manage=tuple(model.manage),
            protect=tuple(model.safety.protect),
            max_change_percent=model.safety.max_change_percent,
            min_existing=model.safety.min_existing,
            prune=model.safety.prune,
        ),
        environments=environments,
        document=doc,
    )


def env_value(name: str | None, purpose: str) -> str:
    """Read a secret from the environment variable ``name``; never echo its value."""
    if not name:
        raise ConfigError(f"no environment variable configured for the {purpose}")
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{purpose} missing: set the environment variable {name}")
    return value
