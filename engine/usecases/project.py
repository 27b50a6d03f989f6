"""What every use-case starts from: the project's configuration (its safety policy included)."""

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
