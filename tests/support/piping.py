"""What the streamed pipe's end-to-end tests share, on every platform: the files, the paces,
and the checks of what the host stored and what the user was told."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from tests.support.fakes.chevereto import FakeChevereto, RecordedRequest, StoredImage
from tests.support.fakes.transfer import Transfer

MB = 1024 * 1024
BIG = 2 * MB
"""A file that takes about half a second each way at ``BANDWIDTH``."""
BANDWIDTH = 4.0 * MB
"""Bytes per second of the platform's file server and of the host's reading, in the tests
that time the overlap: the download and the upload each take about 0.5 s, so which started
first is no race."""
SMALL = 1 * MB
"""Four of the adapters' 256 KB chunks: cut at its middle, two of them reached the upload."""
SLOW = 4.0 * MB
"""A pace for the fault tests: a SMALL file takes 0.25 s, so the upload is under way before
the download is cut at its middle."""
SIZE_MISMATCH = (
    "That file did not arrive whole from the chat, so I did not upload it. Send it again."
)


def png(size: int) -> bytes:
    """``size`` bytes that the fake host takes for a PNG, unique each time."""
    head = b"\x89PNG\r\n\x1a\n"
    return head + os.urandom(size - len(head))


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def the_image(chevereto: FakeChevereto, data: bytes) -> StoredImage:
    """The one image on the host, which must hold exactly ``data``."""
    (image,) = chevereto.images.values()
    assert (image.md5, image.size) == (md5(data), len(data))
    assert image.path.read_bytes() == data
    return image


def assert_told_links(chevereto: FakeChevereto, image: StoredImage, texts: Iterable[str]) -> None:
    """The user got the image's short link and its delete link (in one message or two)."""
    texts = list(texts)
    short = f"{chevereto.url}/{image.id}"
    delete = f"{chevereto.url}/image/{image.id}/delete/{image.delete_hash}"
    assert any(delete in text for text in texts), f"no delete link in {texts}"
    assert any(short in text for text in texts), f"no short link in {texts}"


def assert_none_whole(requests: Iterable[RecordedRequest]) -> None:
    """No upload reached the host whole: each one it saw stopped before its end."""
    seen = [(r.file_md5, r.incomplete) for r in requests]
    assert seen == [(None, True)] * len(seen)


def kept_files(data_dir: Path) -> list[str]:
    """Files the bot still keeps between a job's attempts (or left half written)."""
    spool = data_dir / "tmp"
    return sorted(p.name for p in spool.iterdir()) if spool.is_dir() else []


def assert_overlapped(download: Transfer, upload: RecordedRequest, data: bytes) -> None:
    """The host had the upload's request before the file server sent the file's last byte,
    at a pace slow enough that this was no race; and it got the file whole."""
    assert download.finished is not None
    assert download.finished - download.started >= 0.4  # the pace held: no race to win
    assert upload.at < download.finished
    assert upload.file_md5 == md5(data)
