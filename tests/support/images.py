"""Images of a given width, for the tests of /width: the fake host reads a PNG's width from
its header, as the real one reads the image."""

from __future__ import annotations

import os
import struct
import zlib


def png_of_width(width: int, height: int = 10) -> bytes:
    """A PNG signature and header declaring ``width`` x ``height``, then unique bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + ihdr + os.urandom(64)
