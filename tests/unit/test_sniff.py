"""A file's type is told by its first bytes, and a web page is told apart."""

import struct

import pytest

from bot.chevereto.probe import probe_png
from bot.links.sniff import EXTENSIONS, is_html, sniff


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands + b"\x00\x00\x00\x08free"


def _ebml(doctype: bytes) -> bytes:
    return (
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
        + b"\x42\x82"
        + bytes([0x80 | len(doctype)])
        + doctype
        + b"\x42\x87\x81\x04\x42\x85\x81\x02"
    )


def _bmp(dib_size: int) -> bytes:
    return b"BM" + struct.pack("<IHHII", 70, 0, 0, 54, dib_size) + b"\x01\x00" * 8


MEDIA = [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    (probe_png(), "image/png"),
    (b"GIF87a\x01\x00\x01\x00", "image/gif"),
    (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (_bmp(40), "image/bmp"),
    (_bmp(124), "image/bmp"),
    (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
    (b"\x00\x00\x01\x00\x01\x00\x10\x10", "image/x-icon"),
    (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
    (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
    (_ftyp(b"mif1", b"mif1"), "image/heif"),
    (_ftyp(b"avif", b"mif1", b"avif"), "image/avif"),
    (_ftyp(b"mif1", b"mif1", b"miaf", b"avif"), "image/avif"),
    (_ftyp(b"isom", b"isom", b"iso2", b"mp41"), "video/mp4"),
    (_ftyp(b"mp42", b"isom"), "video/mp4"),
    (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),
    (_ebml(b"webm"), "video/webm"),
    (_ebml(b"matroska"), "video/x-matroska"),
    (b"RIFF\x24\x00\x00\x00AVI LIST", "video/x-msvideo"),
]


@pytest.mark.parametrize(("head", "content_type"), MEDIA, ids=[t for _, t in MEDIA])
def test_media_is_told_by_its_first_bytes(head, content_type):
    """Each image and video type the bot knows is named from its first bytes alone."""
    assert sniff(head) == content_type
    assert content_type in EXTENSIONS


NOT_MEDIA = [
    b"",
    b"hello, world",
    b"%PDF-1.7\n",
    b"PK\x03\x04",
    b'<svg xmlns="http://www.w3.org/2000/svg"/>',
    b"<!DOCTYPE html><html>",
    b"BM but not a bitmap at all, really",
    b"\x00\x00\x01\x00\x00\x00",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    _ftyp(b"M4A ", b"M4A ", b"mp42"),
]


@pytest.mark.parametrize("head", NOT_MEDIA)
def test_other_bytes_name_no_type(head):
    """Documents, archives, audio, SVG, pages and look-alikes are no image or video."""
    assert sniff(head) is None


@pytest.mark.parametrize(
    ("head", "page"),
    [
        (b"<!DOCTYPE html><html>", True),
        (b"\xef\xbb\xbf \r\n\t<!doctype HTML>", True),
        (b"<HTML lang=en>", True),
        (b"  <head><title>x</title>", True),
        (b"<body>", True),
        (b"<?xml version='1.0'?><svg/>", False),
        (b"<svg/>", False),
        (b"hello <html>", False),
        (b"", False),
    ],
)
def test_a_page_is_told_apart(head, page):
    """A page opens, after an optional BOM and blanks, with a doctype, html, head or body tag."""
    assert is_html(head) is page
