"""What went wrong on the network, in a few words an operator can act on.

Every HTTP library wraps the operating system's error in its own (httpx in
httpcore's, a chat SDK in httpx's, aiohttp in its connector's), so the
cause is found by walking the chain of ``__cause__``/``__context__`` down to the
socket-level error. Only the kind is named, never the library's message: a
platform's request URL may hold its bot token.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "DNS lookup failed"),
    (ConnectionRefusedError, "connection refused"),
    (ssl.SSLError, "TLS error"),
    (TimeoutError, "timed out"),
    (ConnectionResetError, "connection reset"),
    (ConnectionAbortedError, "connection reset"),
)
_MAX_DEPTH = 12
"""Chains are a few links long; a cycle (an error that is its own context) stops here."""


def chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then what caused it, down to the first one."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < _MAX_DEPTH:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def network_problem(error: BaseException) -> str:
    """``connection refused``, ``DNS lookup failed``, ``TLS error``, ``timed out``,
    ``connection reset``; else the outermost error's type name."""
    for link in chain(error):
        for kind, words in _KINDS:
            if isinstance(link, kind):
                return words
        # Libraries' own timeouts (httpx.ReadTimeout, an SDK's own TimedOut) do not all
        # derive from TimeoutError.
        name = type(link).__name__
        if "Timeout" in name or "TimedOut" in name:
            return "timed out"
    return type(error).__name__
