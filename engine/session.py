"""Open the API of an environment: the embedded emulator, or a real org with its credentials."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rulesync.api import PAGE_SIZE
from rulesync.auth import StaticToken, TokenSource, token_source
from rulesync.client import MAX_WAIT_S, Client
from rulesync.config import Config, Environment
from rulesync.desired import Desired
from rulesync.errors import RulesyncError
from rulesync.fields import ENUMS, STRING_LIMITS
from rulesync.live import LiveRulesets, live_rulesets
from rulesync.permissions import AUTHORIZATION_META
from rulesync.references import KINDS, References, kinds_named, labels_from

STATE_DIR = ".rulesync"


@contextmanager
def connect(
    config: Config, env: Environment, *, parallelism: int = 4, max_wait: float | None = None
) -> Iterator[Client]:
    """A client of ``env``'s API: ``max_wait`` bounds each wait the server asks for (None: the
    client's own bound)."""
    if max_wait is None:
        max_wait = MAX_WAIT_S
    if env.embedded:
        from rulesync.emulator.server import EmulatorStartError, start_embedded

        try:
            server = start_embedded(config.root / STATE_DIR / f"{env.name}.sqlite")
        except EmulatorStartError as err:
            raise RulesyncError(f"environment {env.name!r}: {err}") from None
        try:
            with Client(
                server.api_url,
                StaticToken(server.token, origin="embedded"),
                parallelism=parallelism,
                max_wait=max_wait,
            ) as client:
                yield client
        finally:
            server.stop()
    else:
        tokens = token_source(env.auth, env_name=env.name)
        with Client(env.api_url, tokens, parallelism=parallelism, max_wait=max_wait) as client:
            yield client


def list_rulesets(client: Client) -> LiveRulesets:
    """Every live ruleset, 1000 a page, with what the credentials may do to each."""
    query = [AUTHORIZATION_META, ("page[size]", str(PAGE_SIZE)), ("count", "false")]
    return live_rulesets(share_references(client.list_query("rulesets", query)))


@dataclass(frozen=True)
class LiveState:
    rulesets: LiveRulesets
    refs: References


def read_live(
    client: Client, desired: list[Desired], *, ahead: ReadAhead | None = None
) -> LiveState:
    """Every live ruleset (1000 a page, with what the credentials may do to each) and only
    the reference kinds the files name."""
    rulesets = ahead.rulesets() if ahead is not None else list_rulesets(client)
    labels = {
        kind: labels_from(kind, client.list_all(KINDS[kind][0]))
        for kind in sorted(kinds_named(desired))
    }
    return LiveState(rulesets=rulesets, refs=References(labels))


class ReadAhead:
    """Lists the live rulesets on a background thread while the files are read: waiting on
    the API releases the interpreter, and the server works meanwhile. The same requests as
    listing them later, on the same client."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._done = threading.Event()
        self._result = LiveRulesets()
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="rulesync-read-ahead", daemon=True).start()

    def _run(self) -> None:
        try:
            self._result = list_rulesets(self.client)
        except BaseException as err:  # handed to the caller, who decides
            self._error = err
        finally:
            self._done.set()

    def rulesets(self) -> LiveRulesets:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result


@contextmanager
def reading_ahead(config: Config, env: Environment) -> Iterator[ReadAhead | None]:
    """A ReadAhead for a remote org with a static token, else None (then the API is read after
    the files). Nothing is minted, started or sent that a file problem would make pointless
    beyond the listing itself: no OAuth mint (a rotating refresh token), no embedded emulator
    (it would share this process), and a missing token is reported after the files."""
    tokens: TokenSource | None = None
    if not env.embedded and env.auth is not None and not env.auth.uses_oauth:
        try:
            tokens = token_source(env.auth, env_name=env.name)
        except RulesyncError:
            tokens = None  # connect() reports it, once the files are known to be valid
    if not isinstance(tokens, StaticToken):
        yield None
        return
    with Client(env.api_url, tokens) as client:
        yield ReadAhead(client)


@contextmanager
def connect_ahead(config: Config, env: Environment, ahead: ReadAhead | None) -> Iterator[Client]:
    """The read-ahead's client, or a new connection (``connect``)."""
    if ahead is not None:
        yield ahead.client
        return
    with connect(config, env) as client:
        yield client


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while large heaps of small, acyclic objects are built
    (files, live rulesets, the plan): the collector would only rescan them, again and again.
    What was built is then frozen, so later collections skip it too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


SHARED_TEXTS = frozenset((*ENUMS, *STRING_LIMITS))


def share_references(rulesets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One object per distinct ``{"data": {"type", "id"}}`` relationship instead of one per
    ruleset: live rulesets point at a few stages, task priorities and users, and these objects
    are most of a listing's memory (50,000 rulesets). Likewise one string per distinct value of
    a managed text attribute (the enums and actions repeat from ruleset to ruleset; names and
    timestamps do not, and are left alone). The listing is only read from here on."""
    shared: dict[tuple[object, object], dict[str, Any]] = {}
    texts: dict[str, str] = {}
    for resource in rulesets:
        attributes = resource.get("attributes")
        if isinstance(attributes, dict):
            for name in SHARED_TEXTS.intersection(attributes):
                value = attributes[name]
                if type(value) is str:
                    attributes[name] = texts.setdefault(value, value)
        rels = resource.get("relationships")
        if not isinstance(rels, dict):
            continue
        for name, value in rels.items():
            data = value.get("data", ()) if isinstance(value, dict) and len(value) == 1 else ()
            if data is None:
                key: tuple[object, object] = (None, None)
            elif isinstance(data, dict) and len(data) == 2:
                key = (data.get("type"), data.get("id"))
                if not (type(key[0]) is str and type(key[1]) in (int, str)):
                    continue
            else:
                continue
            rels[name] = shared.setdefault(key, value)
    return rulesets
