"""The CLI's output streams and log handler: everything shown passes the one redaction step
and is encoded so that it cannot fail (a cp1252 console, a pipe, an odd name from the API)."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from rulesync.redact import redact


class SafeStream:
    """Wraps a text stream: secrets masked, characters the stream cannot encode replaced."""

    def __init__(self, stream: TextIO, *, shaped: bool) -> None:
        self._stream = stream
        self._shaped = shaped
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.errors = "replace"

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("SafeStream takes text")  # so click never writes bytes past us
        text = redact(text, shaped=self._shaped)
        safe = text.encode(self.encoding, errors="replace").decode(self.encoding, errors="replace")
        self._stream.write(safe)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            # click writes to the binary buffer of a stream it thinks misconfigured (ASCII),
            # which would skip redaction: there is none to find
            raise AttributeError(name)
        return getattr(self._stream, name)


def install() -> tuple[TextIO, TextIO]:
    """Put safe streams in place of sys.stdout and sys.stderr; returns the originals."""
    out, err = sys.stdout, sys.stderr
    if not isinstance(out, SafeStream):
        sys.stdout = SafeStream(out, shaped=False)
    if not isinstance(err, SafeStream):
        sys.stderr = SafeStream(err, shaped=True)
    return out, err


class _Formatter(logging.Formatter):
    """``LEVEL: message``; a notice (a wait, say) is shown as a plain line."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "notice", False) or record.levelno == logging.INFO:
            return record.getMessage()
        return super().format(record)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (it is swapped under test runners)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(*, verbose: bool, debug: bool) -> None:
    """Warnings and notices of our own on stderr, one line each; ``verbose`` adds each request
    (method, path, status, timing, retries, pacing); ``debug`` adds everything, urllib3 too."""
    root = logging.getLogger("rulesync")
    urllib3_log = logging.getLogger("urllib3")
    for logger in (root, urllib3_log):
        for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
            logger.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter("%(levelname)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    root.propagate = False
    urllib3_log.setLevel(logging.DEBUG if debug else logging.ERROR)
    if debug:
        urllib3_log.addHandler(handler)
