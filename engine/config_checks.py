"""Config mistakes that would only fail later (or, worse, not at all): found offline, all at
once, each at its position in rulesync.yaml with what to write instead."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rulesync.errors import Problem
from rulesync.yamlio import position_of

if TYPE_CHECKING:
    from rulesync.config import AuthModel, ConfigModel, EnvironmentModel

BUILT_IN = "local"  # the one environment that may leave api_url out (it is embedded)
EMBEDDED = "embedded"
EXAMPLE_URL = "https://api.outreach.io/api/v2"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
OAUTH_FIELDS = ("client_id_env", "client_secret_env", "refresh_token_env")
ENV_FIELDS = ("access_token_env", *OAUTH_FIELDS)


def config_problems(model: ConfigModel, doc: Any, path: str) -> list[Problem]:
    problems: list[Problem] = []
    for name, env in model.environments.items():
        for loc, field, message in _environment(name, env):
            (line, col), _ = position_of(doc, ("environments", name, *loc))
            problems.append(Problem(path, line, col, f"environments.{name}.{field}", message))
    return problems


Found = tuple[tuple[str, ...], str, str]  # (where in the environment, field, message)


def _environment(name: str, env: EnvironmentModel) -> Iterator[Found]:
    url = env.api_url
    if url is None:
        if name != BUILT_IN:
            yield (
                (),
                "api_url",
                f"missing: every environment but the built-in `local` states it, e.g."
                f" `api_url: {EXAMPLE_URL}`, or `api_url: {EMBEDDED}` for the built-in emulator",
            )
        return
    if url == EMBEDDED:
        return
    if not _is_http(url):
        hint = (
            f"; did you mean '{EMBEDDED}'?"
            if url.strip().lower() == EMBEDDED
            else f", e.g. {EXAMPLE_URL}"
        )
        yield (("api_url",), "api_url", f"must be an http(s) URL or `{EMBEDDED}`{hint}")
        return
    if env.auth is None:
        yield (
            (),
            "auth",
            f"missing for the remote API {url}: add"
            " `auth: {access_token_env: OUTREACH_ACCESS_TOKEN}` (or the OAuth settings)",
        )
        return
    yield from _auth(env.auth)


def _auth(auth: AuthModel) -> Iterator[Found]:
    for field in ENV_FIELDS:
        value = getattr(auth, field)
        if value is not None and not _ENV_NAME.match(value):
            # never echo the value: it may be the secret itself, pasted by mistake
            yield (
                ("auth", field),
                f"auth.{field}",
                "is not an environment variable name (letters, digits and _, not starting"
                " with a digit); give the NAME of the variable holding the secret, e.g."
                f" {_example(field)}, never the secret itself",
            )
    oauth = [f for f in OAUTH_FIELDS if getattr(auth, f) is not None]
    if oauth and len(oauth) < len(OAUTH_FIELDS):
        missing = ", ".join(f for f in OAUTH_FIELDS if f not in oauth)
        yield (
            ("auth",),
            "auth",
            f"incomplete OAuth settings: also set {missing} (or use access_token_env alone)",
        )
    if oauth and auth.access_token_env is not None:
        yield (
            ("auth", "access_token_env"),
            "auth.access_token_env",
            "set either access_token_env (a bearer token) or the OAuth settings, not both",
        )
    if not oauth and auth.access_token_env is None:
        yield (
            ("auth",),
            "auth",
            "names no credentials: set access_token_env, or client_id_env, client_secret_env"
            " and refresh_token_env for OAuth",
        )
    if not _is_http(auth.token_url):
        yield (("auth", "token_url"), "auth.token_url", f"must be an http(s) URL, e.g. {_TOKEN}")


_TOKEN = "https://api.outreach.io/oauth/token"


def _example(field: str) -> str:
    return "OUTREACH_" + field.removesuffix("_env").upper()


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
