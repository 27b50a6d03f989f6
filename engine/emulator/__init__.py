"""An Outreach-compatible API server: the rulesets routes, reference data, OAuth token minting,
and control routes for statistics, fault injection and reset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rulesync.emulator.server import EmulatorServer, start_embedded

__all__ = ["EmulatorServer", "start_embedded"]


def __getattr__(name: str) -> Any:
    """The server (and its web stack) is imported when it is used, not with the package: the
    CLI lists the emulator's commands without starting one."""
    if name in __all__:
        from rulesync.emulator import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
