"""The validators of ruleset files and rulesync.yaml are pydantic-core schemas built from the
field table; they replaced pydantic models, which cost `validate` more than everything else.
Whatever a file or a config holds, they must accept what the models accepted, give the same
values, and refuse the rest with the same located messages, byte for byte. The models below
are the ones rulesync used (kept here only as the reference).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
)

from rulesync import config as config_module
from rulesync import held
from rulesync.config_checks import config_problems
from rulesync.fields import (
    FILE_READ_ONLY,
    INT_MAX,
    MANAGEABLE,
    NAME_LIMIT,
    READ_ONLY,
    STORED_DEFAULTS,
    parse_duration,
)
from rulesync.loader import FILE_FIELDS, _declared
from rulesync.model import validate_fields
from rulesync.yamlio import describe_error, validation_problems
from tests.properties.test_properties import FILE_FIELDS as VALID_FIELDS
from tests.properties.test_properties import documents, odd_text, scalars

# ---- the reference: the models as they were -------------------------------------------------

NonNegative = Annotated[StrictInt, Field(ge=0, le=INT_MAX)]
Duration = Annotated[NonNegative, BeforeValidator(parse_duration)]


class IdRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[StrictInt, Field(ge=1)]


Ref = Annotated[StrictStr, StringConstraints(min_length=1, max_length=255)] | IdRef
Str4 = Annotated[StrictStr, StringConstraints(max_length=4)]
Str255 = Annotated[StrictStr, StringConstraints(max_length=255)]


class RulesetFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    permitDuplicateProspects: Literal["allow", "disallow", "only_if_inactive"] | None = None
    sequenceExclusivity: Literal["all_sequences", "exclusive_sequences", "none"] | None = None
    includeUnsubscribeLinks: StrictBool | None = None
    autoResumeOotoProspects: StrictBool | None = None
    ootoAutoExtractionEnabled: StrictBool | None = None
    stepOverridesEnabled: StrictBool | None = None
    autoResumeOotoProspectsIn: Duration | None = None
    autoResumeOotoProspectsExpiresIn: Duration | None = None
    applyCompletedStageIn: Duration | None = None
    minimumProspectTouchedInterval: Duration | None = None
    clicksNeededBeforeCallTaskCreated: NonNegative | None = None
    opensNeededBeforeCallTaskCreated: NonNegative | None = None
    callOptOutAction: Str4 | None = None
    emailOptOutAction: Str4 | None = None
    smsOptOutAction: Str4 | None = None
    meetingBookedAction: Str255 | None = None
    smsReceivedAction: Str255 | None = None
    owner: Ref | None = None
    startedStage: Ref | None = None
    repliedStage: Ref | None = None
    bouncedStage: Ref | None = None
    optedOutStage: Ref | None = None
    finishedStage: Ref | None = None
    completedStage: Ref | None = None
    deliveredStage: Ref | None = None
    callTaskPriority: Ref | None = None
    callTaskPriorityFromOpens: Ref | None = None
    callTaskPriorityFromClicks: Ref | None = None

    @field_validator(*STORED_DEFAULTS)
    @classmethod
    def _not_null(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            default = STORED_DEFAULTS[str(info.field_name)]
            raise ValueError(
                f"Outreach always stores a value here and turns null into '{default}'; write "
                f"{default}, or leave the field out to leave it unmanaged"
            )
        return value


Name = Annotated[StrictStr, StringConstraints(min_length=1, max_length=NAME_LIMIT)]


class RulesetFile(RulesetFields):
    name: Name
    previousNames: list[Name] = []
    id: Annotated[StrictInt, Field(ge=1, le=INT_MAX)] | None = None
    sequences: list[Ref] | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthModel(_Strict):
    access_token_env: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    refresh_token_env: str | None = None
    token_url: str = "https://api.outreach.io/oauth/token"


class EnvironmentModel(_Strict):
    api_url: str | None = None
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
    environments: dict[str, EnvironmentModel] = {"local": EnvironmentModel(api_url="embedded")}


# ---- what users see ---------------------------------------------------------------------------


def shown(problems: list[Any]) -> list[tuple[Any, ...]]:
    return [(p.line, p.col, p.field, p.message) for p in problems]


def declared_by_model(doc: Any) -> tuple[Any, ...]:
    """What the loader kept of a document the model accepted."""
    model = RulesetFile.model_validate(doc)
    own = model.model_dump(exclude_unset=True, exclude={"name", "previousNames", "id", "sequences"})
    sequences = (
        tuple(s if isinstance(s, str) else {"id": s.id} for s in model.sequences or [])
        if "sequences" in model.model_fields_set
        else None
    )
    return (model.name, model.previousNames, model.id, own, sequences)


def declared_now(doc: Any) -> tuple[Any, ...]:
    found = _declared(doc)
    return (found.name, found.previousNames, found.id, found.own, found.sequences)


def assert_file_alike(doc: Any) -> None:
    try:
        expected = declared_by_model(doc)
    except ValidationError as err:
        before = validation_problems(
            err, doc=doc, path="f.yaml", known_fields=FILE_FIELDS, read_only=FILE_READ_ONLY
        )
        with pytest.raises(ValidationError) as now:
            declared_now(doc)
        after = validation_problems(
            now.value, doc=doc, path="f.yaml", known_fields=FILE_FIELDS, read_only=FILE_READ_ONLY
        )
        assert shown(after) == shown(before), doc
        return
    found = declared_now(doc)
    assert found == expected, doc
    assert list(found[3]) == list(expected[3])  # the fields in the same order
    assert [type(v) for v in found[3].values()] == [type(v) for v in expected[3].values()]


def assert_fields_alike(doc: Any) -> None:
    """Defaults and overrides, and the reason a held value would be refused."""
    try:
        expected = RulesetFields.model_validate(doc).model_dump(exclude_unset=True)
    except ValidationError as err:
        with pytest.raises(ValidationError) as now:
            validate_fields(doc)
        for errors in (err, now.value):
            assert errors.error_count()
        before = validation_problems(
            err, doc=doc, path="c", known_fields=MANAGEABLE, read_only=READ_ONLY
        )
        after = validation_problems(
            now.value, doc=doc, path="c", known_fields=MANAGEABLE, read_only=READ_ONLY
        )
        assert shown(after) == shown(before), doc
        assert describe_error(now.value.errors()[0]) == describe_error(err.errors()[0]), doc
        return
    assert validate_fields(doc) == expected, doc


# ---- documents ----------------------------------------------------------------------------------

ALL_KEYS = [*FILE_FIELDS, *READ_ONLY, "Owner", "sequenceExclusivty"]
ids = st.integers(-3, 3) | st.sampled_from([INT_MAX, INT_MAX + 1, 2**63]) | st.booleans()
ref_values = (
    st.builds(lambda i: {"id": i}, ids | st.text(max_size=3) | st.none())
    | st.dictionaries(st.sampled_from(["id", "held", "name"]), ids, max_size=2)
    | st.text(max_size=3)
    | st.sampled_from(["", "x" * 255, "x" * 256, "ada@example.com"])
)
field_values = (
    scalars
    | ref_values
    | st.lists(ref_values | scalars, max_size=3)
    | st.sampled_from(
        ["allow", "none", "stop", "stops", "3d", " 3 d ", "15m", "1w2d", "0", "-1", INT_MAX]
    )
    | st.integers(-2, 5)
)
ruleset_docs = st.fixed_dictionaries(
    {"name": st.sampled_from(["A", "", "x" * 256, 5]) | odd_text},
    optional={key: field_values for key in ALL_KEYS if key != "name"},
) | st.dictionaries(st.sampled_from(ALL_KEYS) | odd_text | st.integers(), field_values, max_size=6)

# mostly valid documents, one field at times wrong: the values accepted must be the same too
names = st.sampled_from(["A", "Inbound", "x" * 255]) | odd_text
valid_docs = st.fixed_dictionaries(
    {"name": names},
    optional={
        **VALID_FIELDS,
        "previousNames": st.lists(names, max_size=2),
        "id": st.none() | st.integers(1, INT_MAX),
        "sequences": st.none() | st.lists(st.sampled_from(["Intro", {"id": 3}]), max_size=2),
    },
)
nearly_valid_docs = st.builds(
    lambda doc, key, value: {**doc, key: value} if key else doc,
    valid_docs,
    st.none() | st.sampled_from(ALL_KEYS),
    field_values,
)

SETTINGS = settings(max_examples=1000, deadline=None, database=None)


@SETTINGS
@given(doc=ruleset_docs | nearly_valid_docs)
def test_ruleset_documents_are_judged_as_the_model_judged_them(doc: dict[Any, Any]) -> None:
    assert_file_alike(doc)


@settings(SETTINGS, max_examples=300)
@given(doc=documents)
def test_the_fuzz_corpus_is_judged_as_the_model_judged_it(doc: Any) -> None:
    if isinstance(doc, dict):
        assert_file_alike(doc)
        assert_fields_alike(doc)


@SETTINGS
@given(
    doc=st.dictionaries(
        st.sampled_from([*MANAGEABLE, *READ_ONLY, "name", "ownr"]), field_values, max_size=4
    )
    | st.fixed_dictionaries({}, optional=VALID_FIELDS)
)
def test_defaults_overrides_and_held_values_are_judged_as_the_model_judged_them(
    doc: dict[str, Any],
) -> None:
    assert_fields_alike(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"name": "A"},
        {"name": "A", "previousNames": ["B"], "id": 3, "owner": {"id": 2}, "startedStage": "Cold"},
        {"name": "A", "autoResumeOotoProspectsIn": "3d", "completedStage": None},
        {"name": "A", "callTaskPriority": {"id": 1}, "includeUnsubscribeLinks": False},
        {"name": "A", "sequences": None},
        {"name": "A", "sequences": ["Intro", {"id": 4}]},
        {"name": "A", "permitDuplicateProspects": None, "sequenceExclusivity": None},
        {"name": "A", "owner": 5, "startedStage": {"id": 0}, "sequences": [5, {"x": 1}]},
        {"name": "A", "createdAt": "now", "ownr": "x", 1: 2},
        {"name": 5, "previousNames": "B", "id": "3", "autoResumeOotoProspectsIn": "3 days"},
    ],
)
def test_documents_users_write(doc: dict[Any, Any]) -> None:
    assert_file_alike(doc)


def test_a_held_value_is_refused_for_the_same_reason() -> None:
    assert held.refusal("callOptOutAction", "never") == "at most 4 characters, got 'never'"
    for field, value in [
        ("permitDuplicateProspects", "sometimes"),
        ("autoResumeOotoProspectsIn", "soon"),
        ("owner", 5),
        ("clicksNeededBeforeCallTaskCreated", INT_MAX + 1),
        ("sequenceExclusivity", None),
    ]:
        assert_fields_alike({field: value})


# ---- rulesync.yaml ------------------------------------------------------------------------------

CONFIG_KEYS = [
    *("rulesets_dir", "default_environment", "defaults", "manage", "safety", "environments"),
    *("prune", "protect", "max_change_percent", "min_existing", "api_url", "auth", "overrides"),
    *("access_token_env", "client_id_env", "client_secret_env", "refresh_token_env", "token_url"),
    "enviroments",
]
config_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["embedded", "https://api.outreach.io/api/v2", "TOKEN", "a b", "*", ""])
)
config_values = st.recursive(
    config_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(CONFIG_KEYS) | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=14,
)
env_names = st.sampled_from(["OUTREACH_TOKEN", "ID", "SECRET", "REFRESH", "not a name", ""])
auths = st.fixed_dictionaries(
    {},
    optional={
        "access_token_env": st.none() | env_names,
        "client_id_env": env_names,
        "client_secret_env": env_names,
        "refresh_token_env": env_names,
        "token_url": st.sampled_from(["https://example.com/token", "ftp://x", "x"]),
    },
)
environments = st.fixed_dictionaries(
    {},
    optional={
        "api_url": st.none()
        | st.sampled_from(["embedded", "https://api.outreach.io/api/v2", "Embedded", "x"]),
        "auth": st.none() | auths,
        "defaults": st.fixed_dictionaries({}, optional=VALID_FIELDS),
        "overrides": st.dictionaries(names, st.fixed_dictionaries({}, optional=VALID_FIELDS)),
    },
)
valid_configs = st.fixed_dictionaries(
    {},
    optional={
        "rulesets_dir": st.sampled_from(["rulesets", "a/b"]),
        "default_environment": st.sampled_from(["local", "prod"]),
        "defaults": st.fixed_dictionaries({}, optional=VALID_FIELDS),
        "manage": st.lists(st.sampled_from(["*", "A*", "[x]"]), max_size=2),
        "safety": st.fixed_dictionaries(
            {},
            optional={
                "prune": st.booleans(),
                "protect": st.lists(st.sampled_from(["*", "A"]), max_size=2),
                "max_change_percent": st.integers(0, 100) | st.floats(0, 100),
                "min_existing": st.integers(0, 50),
            },
        ),
        "environments": st.dictionaries(
            st.sampled_from(["local", "prod", "staging"]), environments
        ),
    },
)
configs = (
    st.dictionaries(st.sampled_from(CONFIG_KEYS), config_values, max_size=6)
    | valid_configs
    | st.builds(
        lambda c, k, v: {**c, k: v}, valid_configs, st.sampled_from(CONFIG_KEYS), config_values
    )
)


def build(model: Any, doc: Any) -> config_module.Config:
    return config_module._build(model, shown="c", root=Path("/x"), doc=doc)


@SETTINGS
@given(doc=configs)
def test_configs_are_judged_as_the_model_judged_them(doc: dict[str, Any]) -> None:
    known = config_module.KNOWN_FIELDS
    try:
        expected = ConfigModel.model_validate(doc)
    except ValidationError as err:
        with pytest.raises(ValidationError) as now:
            config_module.validate_config(doc)
        before = validation_problems(err, doc=doc, path="c", known_fields=known)
        after = validation_problems(now.value, doc=doc, path="c", known_fields=known)
        assert shown(after) == shown(before), doc
        return
    found = config_module.validate_config(doc)
    assert build(found, doc) == build(expected, doc)
    assert shown(config_problems(found, doc, "c")) == shown(
        config_problems(expected, doc, "c")  # type: ignore[arg-type]
    )


def test_the_config_defaults_are_the_models_defaults() -> None:
    assert build(config_module.validate_config({}), {}) == build(ConfigModel(), {})
    fresh = config_module.validate_config({})
    fresh.safety.protect.append("x")
    fresh.environments["local"].defaults["a"] = 1
    again = config_module.validate_config({})
    assert again.safety.protect == [] and again.environments["local"].defaults == {}
