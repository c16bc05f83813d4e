"""The files a job keeps between its attempts (``DATA_DIR/tmp``): each file's bytes as they
came, so a retry sends them without fetching again, and for a link the name and type its
download gave it, so the retry sends the same file."""

from __future__ import annotations

import asyncio
import json
import os
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from bot.errors import MediaTooLarge
from bot.links.sniff import EXTENSIONS, HEAD_BYTES, sniff
from bot.ops.transfer import Pace
from bot.payloads import LINK_NAME, Fetch
from bot.upload.spool_writer import SpoolWriter

MB = 1024 * 1024
STALE_SPOOL_S = 24 * 3600.0
"""A kept file this old belongs to a job no process will resume."""
LINK_NAME_SUFFIX = ".name"
"""Beside a link's kept file: the name and type its download gave it, for the next attempt."""


@dataclass(slots=True)
class Sending:
    """What one file goes to the host as: a platform's file as its platform described it, a
    link's as its server and its first bytes say once it comes."""

    filename: str
    content_type: str | None


async def kept_size(path: Path) -> int | None:
    """The size of a file kept from an earlier attempt, or None when there is none."""
    try:
        return (await asyncio.to_thread(path.stat)).st_size
    except FileNotFoundError:
        return None


def _name_file(spool: Path) -> Path:
    return spool.with_name(spool.name + LINK_NAME_SUFFIX)


def keep_name(sending: Sending, spool: Path) -> None:
    """Keeps a link's name and type beside its file: a next attempt sends the kept file
    without fetching the link again, and must send it as the same file."""
    named = {"filename": sending.filename, "content_type": sending.content_type}
    _name_file(spool).write_text(json.dumps(named), encoding="utf-8")


def kept_name(sending: Sending, spool: Path) -> None:
    """A kept link's name and type; without their note, its type from its first bytes."""
    try:
        named = json.loads(_name_file(spool).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        with spool.open("rb") as kept:
            content_type = sniff(kept.read(HEAD_BYTES))
        ending = EXTENSIONS[content_type][0] if content_type else "bin"
        sending.filename, sending.content_type = f"{LINK_NAME}.{ending}", content_type
        return
    sending.filename, sending.content_type = named["filename"], named["content_type"]


async def download_to(spool: Path, chunks: Fetch, limit_mb: int, pace: Pace) -> int:
    """The whole file to disk first, for a source that did not say its size, at its ``pace``."""
    received = 0
    partial = spool.with_name(spool.name + ".part")
    try:
        writer = SpoolWriter(partial)
        try:
            async with pace.watch():
                async for chunk in chunks():
                    pace.moved(len(chunk))
                    received += len(chunk)
                    if received > limit_mb * MB:
                        raise MediaTooLarge(limit_mb)
                    await writer.write(chunk)
        finally:
            await writer.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, spool)
    return received


def forget(spool: Path) -> None:
    """Drops one file's kept bytes and its note, once its outcome is final."""
    for kept in (spool, _name_file(spool)):
        kept.unlink(missing_ok=True)


def drop_kept(folder: Path, job_id: int) -> None:
    """A finished job's files kept between its attempts are no longer needed."""
    for kept in folder.glob(f"job-{job_id}-*"):
        kept.unlink(missing_ok=True)


def drop_stale(folder: Path, older_than_s: float = STALE_SPOOL_S) -> None:
    """Files left by a process that stopped mid-job and never came back for them."""
    if not folder.is_dir():
        return
    horizon = time.time() - older_than_s
    for kept in folder.iterdir():
        with suppress(FileNotFoundError):
            if kept.stat().st_mtime < horizon:
                kept.unlink()
