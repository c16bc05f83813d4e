"""One TLS context for every HTTPS client of the process.

Building one parses the CA bundle (about 50 ms); the bot has several clients, and
start-up time is something an admin watches.
"""

from __future__ import annotations

import functools
import ssl

import certifi


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The context httpx would build for ``verify=True``, built once."""
    return ssl.create_default_context(cafile=certifi.where())
