"""``rulesync emulator serve``: the emulator as a standalone server."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click


@click.group()
def emulator() -> None:
    """The built-in Outreach-compatible API server (for local runs, demos and tests)."""


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8788,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file that keeps the state between runs (default: in memory).",
)
@click.option(
    "--token",
    envvar="RULESYNC_EMULATOR_TOKEN",
    default=None,
    help="Bearer token clients must send (env RULESYNC_EMULATOR_TOKEN; default: a random "
    "one, printed at start).",
)
@click.option(
    "--seed",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML or JSON file of stages, taskPriorities, users, rulesets and sequences to "
    "start from (replaces the data in --db).",
)
@click.option(
    "--scopes",
    default=None,
    help="OAuth scopes of --token and of minted tokens, space-separated, e.g. "
    "'rulesets.read rulesets.write' (default: every scope). Not additive, as on Outreach: "
    "rulesets.write grants no read.",
)
@click.option("--oauth-client-id", default=None, help="Enables /oauth/token with this client id.")
@click.option(
    "--oauth-client-secret",
    envvar="RULESYNC_EMULATOR_CLIENT_SECRET",
    default=None,
    help="The client secret /oauth/token expects (env RULESYNC_EMULATOR_CLIENT_SECRET).",
)
@click.option(
    "--oauth-refresh-token",
    envvar="RULESYNC_EMULATOR_REFRESH_TOKEN",
    default=None,
    help="The first refresh token /oauth/token accepts (env RULESYNC_EMULATOR_REFRESH_TOKEN).",
)
def serve(
    host: str,
    port: int,
    db: Path | None,
    token: str | None,
    seed: Path | None,
    scopes: str | None,
    oauth_client_id: str | None,
    oauth_client_secret: str | None,
    oauth_refresh_token: str | None,
) -> None:
    """Serve the API under http://HOST:PORT/api/v2 until Ctrl-C or SIGTERM.

    \b
    Example:
      rulesync emulator serve --port 8788 --token dev --scopes 'rulesets.all stages.read'
      curl -H 'Authorization: Bearer dev' http://127.0.0.1:8788/api/v2/rulesets

    With all three --oauth-* options, POST /oauth/token mints access tokens from the refresh
    token (grant_type=refresh_token), rotating it, one mint per minute.
    """
    oauth = (oauth_client_id, oauth_client_secret, oauth_refresh_token)
    if any(oauth) and not all(oauth):
        raise click.UsageError(
            "--oauth-client-id, --oauth-client-secret and --oauth-refresh-token go together"
        )
    import secrets  # OpenSSL's libcrypto: loaded by `serve` only, not by every command
    import sqlite3

    from rulesync.emulator.scopes import ScopeError
    from rulesync.emulator.seed import SeedError
    from rulesync.emulator.server import EmulatorServer

    generated = not token
    token = token or secrets.token_urlsafe(24)
    try:
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        server = EmulatorServer(
            host=host,
            port=port,
            db_path=db,
            token=token,
            seed_path=seed,
            scopes=scopes,
            oauth_client_id=oauth_client_id,
            oauth_client_secret=oauth_client_secret,
            oauth_refresh_token=oauth_refresh_token,
        )
    except ScopeError as err:
        raise click.BadParameter(str(err), param_hint="--scopes") from None
    except SeedError as err:
        raise click.ClickException(str(err)) from None
    except (OSError, sqlite3.Error) as err:
        raise click.ClickException(f"cannot open database {db}: {err}") from None
    try:
        server.start()
    except OSError as err:
        server.stop()
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {err.strerror or err}"
        ) from None

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    click.echo(f"Listening on {server.api_url}")
    if generated:
        click.echo(f"Token: {token}")
    sys.stdout.flush()
    try:
        # A timed wait, so the main thread wakes up to run the signal handler promptly.
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    click.echo("Emulator stopped.", err=True)
