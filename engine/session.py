"""Open the API of an environment: the embedded emulator, or a real org with its credentials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rulesync.auth import StaticToken, token_source
from rulesync.client import MAX_WAIT_S, PAGE_SIZE, Client
from rulesync.config import Config, Environment
from rulesync.errors import RulesyncError
from rulesync.loader import Desired
from rulesync.permissions import AUTHORIZATION_META
from rulesync.references import KINDS, References, kinds_named, labels_from

STATE_DIR = ".rulesync"


@contextmanager
def connect(
    config: Config, env: Environment, *, parallelism: int = 4, max_wait: float = MAX_WAIT_S
) -> Iterator[Client]:
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


@dataclass(frozen=True)
class LiveState:
    rulesets: list[dict[str, object]]
    refs: References


def read_live(client: Client, desired: list[Desired]) -> LiveState:
    """Every live ruleset (1000 a page, with what the credentials may do to each) and only
    the reference kinds the files name."""
    query = [AUTHORIZATION_META, ("page[size]", str(PAGE_SIZE)), ("count", "false")]
    rulesets = client.list_query("rulesets", query)
    labels = {
        kind: labels_from(kind, client.list_all(KINDS[kind][0]))
        for kind in sorted(kinds_named(desired))
    }
    return LiveState(rulesets=rulesets, refs=References(labels))
