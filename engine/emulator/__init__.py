"""An Outreach-compatible API server: the rulesets routes, reference data, OAuth token minting,
and control routes for statistics, fault injection and reset."""

from rulesync.emulator.server import EmulatorServer, start_embedded

__all__ = ["EmulatorServer", "start_embedded"]
