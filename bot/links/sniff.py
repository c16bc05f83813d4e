"""What a file is, by its first bytes: the image and video types the bot knows, and web pages.

A link's server may name any type, and a URL's ending proves nothing: the bytes decide.
Chevereto 4.2 takes AVIF, JPEG, PNG, BMP, GIF, WEBP, MOV, MP4 and WEBM; TIFF, ICO, HEIC,
Matroska and AVI are named too, being images and videos, and the host refuses them in its
own words (``FileRefused``), as it does when they come from a chat. SVG is not named: the
host does not take it (and it carries scripts).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

HEAD_BYTES: Final = 64
"""Enough to tell every type below apart: an ftyp box's first brands, an EBML DocType, the
size of a BMP's header."""

EXTENSIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "image/jpeg": ("jpg", "jpeg"),
        "image/png": ("png",),
        "image/gif": ("gif",),
        "image/webp": ("webp",),
        "image/bmp": ("bmp",),
        "image/tiff": ("tif", "tiff"),
        "image/x-icon": ("ico",),
        "image/heic": ("heic",),
        "image/heif": ("heif",),
        "image/avif": ("avif",),
        "video/mp4": ("mp4", "m4v"),
        "video/quicktime": ("mov", "qt"),
        "video/webm": ("webm",),
        "video/x-matroska": ("mkv",),
        "video/x-msvideo": ("avi",),
    }
)
"""Every type ``sniff`` names, with the file name endings that fit it, the usual one first."""

_PREFIXES: Final = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
_RIFF: Final = {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo"}
_EBML: Final = b"\x1a\x45\xdf\xa3"
_AVIF: Final = frozenset({b"avif", b"avis"})
_HEIC: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_HEIF: Final = frozenset({b"mif1", b"msf1"})
"""Brands of any HEIF file: the compatible brands say whether it is AVIF or HEIC."""
_AUDIO: Final = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_BMP_HEADERS: Final = frozenset({12, 40, 52, 56, 64, 108, 124})
"""The sizes a BMP's second header (the DIB header) has."""
_HTML: Final = (b"<!doctype html", b"<html", b"<head", b"<body")


def sniff(head: bytes) -> str | None:
    """The media type the first bytes show, or None when they show no type above."""
    for prefix, content_type in _PREFIXES:
        if head.startswith(prefix):
            return content_type
    if head.startswith(b"RIFF"):
        return _RIFF.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _iso_media(head)
    if head.startswith(_EBML):
        return "video/webm" if b"webm" in head else "video/x-matroska"
    return _bitmap(head)


def _bitmap(head: bytes) -> str | None:
    """BMP and ICO, whose first two or four bytes open too much else: what follows tells."""
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in _BMP_HEADERS:
        return "image/bmp"
    if head.startswith(b"\x00\x00\x01\x00") and head[4:6] not in (b"", b"\x00\x00"):
        return "image/x-icon"  # with at least one image in it
    return None


def _iso_media(head: bytes) -> str | None:
    """An ISO media file (MP4, QuickTime, HEIF) by the brands of its ftyp box."""
    major = head[8:12]
    end = min(int.from_bytes(head[:4], "big"), len(head))
    compatible = {head[at : at + 4] for at in range(16, end - 3, 4)}
    if major in _AVIF or (major in _HEIF and compatible & _AVIF):
        return "image/avif"
    if major in _HEIC or (major in _HEIF and compatible & _HEIC):
        return "image/heic"
    if major in _HEIF:
        return "image/heif"
    if major in _AUDIO:
        return None
    return "video/quicktime" if major == b"qt  " else "video/mp4"


def is_html(head: bytes) -> bool:
    """A web page: after an optional UTF-8 byte order mark and blanks, one of the tags a page
    opens with, in any case."""
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().lower().startswith(_HTML)
