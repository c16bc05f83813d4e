"""A tiny PNG with unique bytes, uploaded by /link to prove a key works, then deleted."""

from __future__ import annotations

import base64
import secrets
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def probe_png() -> bytes:
    """A 1×1 PNG whose pixel and text chunk are random, so the host never sees it twice."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(b"\x00" + secrets.token_bytes(3))
    nonce = b"Comment\x00chevereto-bot key check " + secrets.token_hex(16).encode()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"tEXt", nonce)
        + _chunk(b"IDAT", pixel)
        + _chunk(b"IEND", b"")
    )


def probe_base64() -> str:
    return base64.b64encode(probe_png()).decode("ascii")
