"""What each command does, from the project's files to a result: `validating`, `planning` (plan
and show), `applying`, `exporting`. Each use-case takes plain inputs (a config path, an
environment name, a frozen options value) and returns a result that carries what the command
shows and its exit code (SPEC §4); the command line only parses options, calls one use-case and
renders its result.

Nothing here prints, prompts or exits. Remarks that arise along the way (which config file is
used, a pattern that matches no live ruleset) go to ``notes`` as they arise, so they are seen
even when a later step fails; errors are raised from the error tree (errors.py). What needs a
person (the plan shown before confirming, the confirmation, progress) is asked through
``applying.ApplyHooks``.

What every use-case starts from is here: the project's configuration (``open_config``, its
safety policy included) and the ``Notes`` sink.

The command line imports each module when its command runs, and each use-case imports what it
needs when it runs: `validate` never loads the HTTP stack, `plan` neither the applier nor the
emulator (unless the environment is `embedded`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rulesync.config import CONFIG_FILE, Config, load_config

Notes = Callable[[str], None]
"""Where remarks go as they arise, one line each (the CLI writes them to stderr)."""


def ignore(line: str) -> None:
    """Notes nobody reads."""


def open_config(config_path: Path | None, notes: Notes = ignore) -> Config:
    """``config_path``, or the nearest rulesync.yaml from here upward (then a note says which,
    when it is in a folder above, as git finds its repository)."""
    config = load_config(config_path)
    if config_path is None and config.path not in (CONFIG_FILE, "(defaults)"):
        notes(f"Using {config.path} (paths below are relative to its folder).")
    return config
