"""One redaction step for everything rulesync prints or logs: it knows every secret in use.

Token sources register each secret as they read or mint it; the CLI passes all of its output
(stdout, stderr, log records) through ``redact``. Known values are replaced outright, and
anything shaped like a credential (a bearer header, a token form field) is masked even when its
value was never registered (e.g. one the token endpoint echoed back in an error).
"""

from __future__ import annotations

import re
import threading

MASK = "***"
# Shorter values are too likely to occur in ordinary text to be replaced everywhere (real
# tokens and secrets are far longer).
MIN_SECRET_LENGTH = 8

_lock = threading.Lock()
_secrets: set[str] = set()
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|id_token|password)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
    ),
)


def register(secret: str) -> None:
    """Remember a secret so that no output can carry it."""
    if len(secret) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(secret)


def forget() -> None:
    """Start a run with no secrets known (a process may run the CLI more than once)."""
    with _lock:
        _secrets.clear()


def redact(text: str, *, shaped: bool = True) -> str:
    """``text`` with every known secret masked, and (``shaped``) credential-shaped values too.
    Plan output on stdout is data (a ruleset may be named "Bearer bonds"): only known secrets
    are masked there; errors and logs get both."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)  # a secret may contain another
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS if shaped else ():
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text
