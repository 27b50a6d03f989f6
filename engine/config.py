"""rulesync.yaml -> typed settings: environments, safety policy, defaults and overrides."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from rulesync.config_checks import ENV_FIELDS, config_problems
from rulesync.errors import ConfigError, InvalidFiles, Problem
from rulesync.policy import Policy
from rulesync.suggest import suggest
from rulesync.yamlio import LocatedDict, load_documents, read_text, validation_problems

CONFIG_FILE = "rulesync.yaml"
EMBEDDED = "embedded"
DEFAULT_TOKEN_URL = "https://api.outreach.io/oauth/token"


# What rulesync.yaml holds, as validated: instances are built by the validator (below), with
# the errors, messages and locations pydantic's models give, without pydantic's model layer.
class AuthModel:
    access_token_env: str | None
    client_id_env: str | None
    client_secret_env: str | None
    refresh_token_env: str | None
    token_url: str


class EnvironmentModel:
    api_url: str | None  # required but for `local` (a missing one is a located problem)
    auth: AuthModel | None
    defaults: dict[str, Any]
    overrides: dict[str, dict[str, Any]]


class SafetyModel:
    prune: bool
    protect: list[str]
    max_change_percent: float
    min_existing: int


class ConfigModel:
    rulesets_dir: str
    default_environment: str
    defaults: dict[str, Any]
    manage: list[str]
    safety: SafetyModel
    environments: dict[str, EnvironmentModel]


def _field(schema: cs.CoreSchema, default: Any) -> cs.ModelField:
    return cs.model_field(cs.with_default_schema(schema, default=default))


def _model(cls: type[Any], fields: dict[str, cs.ModelField]) -> cs.ModelSchema:
    name = cls.__name__
    cls.model_config = {"title": name, "extra": "forbid"}  # read by the JSON Schema writer
    return cs.model_schema(
        cls,
        cs.model_fields_schema(fields, model_name=name),
        config=cs.CoreConfig(title=name, extra_fields_behavior="forbid"),
        ref=name,
    )


def _any_dict() -> cs.DictSchema:
    return cs.dict_schema(cs.str_schema(), cs.any_schema())


def config_schema() -> cs.ModelSchema:
    """rulesync.yaml; every key optional, an omitted key takes its default."""
    text = cs.str_schema
    optional_text = cs.nullable_schema(text())
    auth = _model(
        AuthModel,
        {
            **{name: _field(optional_text, None) for name in ENV_FIELDS},
            "token_url": _field(text(), DEFAULT_TOKEN_URL),
        },
    )
    environment = _model(
        EnvironmentModel,
        {
            "api_url": _field(
                cs.nullable_schema(
                    text(),
                    metadata={"pydantic_js_annotation_functions": [lambda _s, _h: _TEXT_JSON]},
                ),
                None,
            ),
            "auth": _field(cs.nullable_schema(auth), None),
            "defaults": _field(_any_dict(), {}),
            "overrides": _field(cs.dict_schema(text(), _any_dict()), {}),
        },
    )
    safety = _model(
        SafetyModel,
        {
            "prune": _field(cs.bool_schema(strict=True), False),
            "protect": _field(cs.list_schema(text()), []),
            "max_change_percent": _field(cs.float_schema(ge=0, le=100), 30),
            "min_existing": _field(cs.int_schema(strict=True, ge=0), 10),
        },
    )
    validate_default = functools.partial(cs.with_default_schema, validate_default=True)
    return _model(
        ConfigModel,
        {
            "rulesets_dir": _field(text(), "rulesets"),
            "default_environment": _field(text(), "local"),
            "defaults": _field(_any_dict(), {}),
            "manage": _field(cs.list_schema(text()), ["*"]),
            "safety": cs.model_field(validate_default(safety, default=SAFETY_DEFAULT)),
            "environments": cs.model_field(
                validate_default(cs.dict_schema(text(), environment), default=ENVIRONMENTS_DEFAULT)
            ),
        },
    )


_TEXT_JSON = {"type": "string"}
SAFETY_DEFAULT: dict[str, Any] = {
    "prune": False,
    "protect": [],
    "max_change_percent": 30.0,
    "min_existing": 10,
}
ENVIRONMENTS_DEFAULT: dict[str, Any] = {
    "local": {"api_url": EMBEDDED, "auth": None, "defaults": {}, "overrides": {}}
}
KNOWN_FIELDS = (
    *("rulesets_dir", "default_environment", "defaults", "manage", "safety", "environments"),
    *("prune", "protect", "max_change_percent", "min_existing"),
    *("api_url", "auth", "defaults", "overrides"),
    *(*ENV_FIELDS, "token_url"),
)


@functools.cache
def _validator() -> SchemaValidator:
    return SchemaValidator(config_schema())


def validate_config(doc: Any) -> ConfigModel:
    """rulesync.yaml's mapping -> its settings; raises ``pydantic_core.ValidationError``."""
    model: ConfigModel = _validator().validate_python(doc)
    return model


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
            return _build(validate_config({}), shown="(defaults)", root=cwd, doc=None)
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
        model = validate_config(doc)
    except ValidationError as err:
        raise InvalidFiles(
            validation_problems(err, doc=doc, path=shown, known_fields=KNOWN_FIELDS)
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
            auth=_auth(env.auth) if env.auth else None,
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


def _auth(model: AuthModel) -> Auth:
    return Auth(
        access_token_env=model.access_token_env,
        client_id_env=model.client_id_env,
        client_secret_env=model.client_secret_env,
        refresh_token_env=model.refresh_token_env,
        token_url=model.token_url,
    )


def env_value(name: str | None, purpose: str) -> str:
    """Read a secret from the environment variable ``name``; never echo its value."""
    if not name:
        raise ConfigError(f"no environment variable configured for the {purpose}")
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{purpose} missing: set the environment variable {name}")
    return value
