"""The upload service: checks, picks the key and options, fetches to disk, uploads, records."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

from bot.captions import clean_tags, clean_title, options_from_caption
from bot.chevereto import CheveretoClient, FileSource, Progress, StreamSource
from bot.domain import HostImage, Outcome, UploadOptions, UserRef
from bot.errors import (
    Duplicate,
    HostError,
    HostUnavailable,
    MediaTooLarge,
    NotLinked,
    QuotaReached,
    SourceUnavailable,
    UnsupportedMedia,
)
from bot.monitor import Monitor
from bot.payloads import FileRef, FileResult, IncomingMedia
from bot.pipe import Pipe
from bot.store import Prefs, Store, database_unavailable
from bot.store.uploads import NewUpload
from bot.texts import error_text

log = logging.getLogger(__name__)
MB = 1024 * 1024
STALE_SPOOL_S = 24 * 3600.0
"""A kept file this old belongs to a job no process will resume."""
Recorder = Callable[[NewUpload, int], Awaitable[FileResult]]
"""Keeps a finished upload (and the bytes it sent) and says what became of its file. A job's
runner records it together with the job's results, in one transaction (``JobState``)."""


async def _size_of(path: Path) -> int | None:
    """The size of a file kept from an earlier attempt, or None when there is none."""
    try:
        return (await asyncio.to_thread(path.stat)).st_size
    except FileNotFoundError:
        return None


def _transient(error: BaseException) -> bool:
    """A failure that passes: the host or the platform down, the database restarting."""
    return isinstance(error, HostUnavailable | SourceUnavailable) or database_unavailable(error)


class UploadService:
    """Turns one IncomingMedia into an upload on the host, with every rule of SPEC applied."""

    def __init__(
        self,
        client: CheveretoClient,
        store: Store,
        *,
        limit_mb: Callable[[str], int],
        temp_dir: Path,
        concurrency: int,
        monitor: Monitor,
        default_key: str | None = None,
        shared_key_daily_limit: int = 0,
    ) -> None:
        self._client = client
        self._store = store
        self._monitor = monitor
        self.shared_key_daily_limit = shared_key_daily_limit
        """Uploads per user and UTC day with a key not their own; 0 means no limit."""
        self.limit_mb = limit_mb
        """The size limit of a platform, by its name."""
        self._temp_dir = temp_dir
        self._slots = asyncio.Semaphore(concurrency)
        self._downloads = asyncio.Semaphore(concurrency)
        self._default_key = default_key

    def check(self, platform: str, file: FileRef) -> None:
        """Refuses what is not an image or video, or is declared too large, before any download."""
        if file.kind is None:
            raise UnsupportedMedia(file.content_type or "unknown type")
        limit = self.limit_mb(platform)
        if file.size is not None and file.size > limit * MB:
            raise MediaTooLarge(limit)

    async def key_and_options(self, media: IncomingMedia) -> tuple[str, bool, UploadOptions]:
        """The key (the poster's, else in a mirrored chat the enabling admin's, else the
        default), whether it is the poster's own, and the options; the uploader's key and
        defaults are read together, in one session."""
        profile = await self._store.profiles.of(media.user, media.chat)
        key = profile.key or self._default_key
        if key is None:
            raise NotLinked
        return key, profile.own, self._options(media, profile.prefs)

    @staticmethod
    def _options(media: IncomingMedia, prefs: Prefs) -> UploadOptions:
        """User defaults < caption < per-upload options; the title and tags made clean."""
        defaults = UploadOptions(
            expiration=prefs.expiration, nsfw=prefs.nsfw, album_id=prefs.album_id
        )
        options = media.options.over(options_from_caption(media.caption).over(defaults))
        return replace(options, title=clean_title(options.title), tags=clean_tags(options.tags))

    async def over_quota(self, user: UserRef) -> bool:
        """Whether the user, having no key of their own, has used today's shared-key uploads."""
        if not self.shared_key_daily_limit or await self._store.keys.of(user) is not None:
            return False
        return await self._store.quota.used(user) >= self.shared_key_daily_limit

    async def upload(
        self,
        media: IncomingMedia,
        progress: Progress | None = None,
        record: Recorder | None = None,
    ) -> FileResult:
        """Uploads one file; a file already on the host is a result, other failures raise.
        ``record`` keeps the finished upload (by default, alone in the history).

        An upload with a key that is not the user's own is counted against today's
        SHARED_KEY_DAILY_LIMIT before it starts, and uncounted if it did not happen.
        """
        self.check(media.user.platform, media.file)
        key, own, options = await self.key_and_options(media)
        record = record or self._record
        if own or not self.shared_key_daily_limit:
            return await self._upload(media, key, options, progress, record)
        if not await self._store.quota.take(media.user, self.shared_key_daily_limit):
            raise QuotaReached(self.shared_key_daily_limit)
        uploaded = False
        try:
            result = await self._upload(media, key, options, progress, record)
            uploaded = result.outcome is Outcome.UPLOADED
            return result
        finally:
            if not uploaded:
                await self._store.quota.give_back(media.user)

    async def _upload(
        self,
        media: IncomingMedia,
        key: str,
        options: UploadOptions,
        progress: Progress | None,
        record: Recorder,
    ) -> FileResult:
        """Sends the file to the host and records the upload. A file kept from an earlier
        attempt is sent from disk; otherwise it goes through the pipe, download and upload
        at once. The kept file is dropped once the outcome is final."""
        spool = self._temp_dir / (media.spool or f"{uuid.uuid4().hex}.once")
        spool.parent.mkdir(parents=True, exist_ok=True)
        keep = False
        try:
            size, image = await self._send(media, spool, key, options, progress)
        except Duplicate:
            return FileResult(media.file.filename, Outcome.DUPLICATE)
        except Exception as error:
            keep = media.spool is not None and _transient(error)
            raise
        finally:
            if not keep:
                with suppress(FileNotFoundError):
                    spool.unlink()
        return await record(NewUpload(media.user, media.chat, media.file.filename, image), size)

    async def _record(self, new: NewUpload, size: int) -> FileResult:
        """An upload made outside a job is recorded alone."""
        record = await self._store.uploads.record(new.user, new.chat, new.filename, new.image)
        return FileResult(new.filename, Outcome.UPLOADED, upload=record, size=size)

    async def _send(
        self,
        media: IncomingMedia,
        spool: Path,
        key: str,
        options: UploadOptions,
        progress: Progress | None,
    ) -> tuple[int, HostImage]:
        """The size sent and the host's answer. One slot of UPLOAD_CONCURRENCY covers the
        download and the upload, which run at once."""
        name, kind = media.file.filename, media.file.content_type
        async with self._slots:
            size = await _size_of(spool)
            if size is None:
                if media.file.size is not None:
                    return await self._piped(media, spool, key, options, progress)
                size = await self._download(media, spool)  # no Content-Length to give first
            image = await self._client.upload(
                key, FileSource(spool, name, kind), options, progress=progress
            )
            return size, image

    async def _piped(
        self,
        media: IncomingMedia,
        spool: Path,
        key: str,
        options: UploadOptions,
        progress: Progress | None,
    ) -> tuple[int, HostImage]:
        """The upload fed by the download as it arrives (``bot.pipe``). When the host fails,
        the download still goes to the end, so the next attempt sends the kept file."""
        assert media.file.size is not None
        limit = self.limit_mb(media.user.platform)
        pipe = Pipe(media.fetch, spool, declared=media.file.size, limit_mb=limit)
        await pipe.start()
        source = StreamSource(
            pipe.body, media.file.size, media.file.filename, media.file.content_type
        )
        try:
            image = await self._client.upload(key, source, options, progress=progress)
        except HostError:
            with suppress(Exception):  # a download that broke too leaves no file to keep
                await pipe.finished()
            raise
        except BaseException:
            await pipe.close()
            raise
        await pipe.finished()
        return media.file.size, image

    async def _download(self, media: IncomingMedia, spool: Path) -> int:
        """The whole file to disk first, for a platform that did not say its size."""
        limit = self.limit_mb(media.user.platform)
        received = 0
        partial = spool.with_name(spool.name + ".part")
        try:
            with partial.open("wb") as out:
                async for chunk in media.fetch():
                    received += len(chunk)
                    if received > limit * MB:
                        raise MediaTooLarge(limit)
                    out.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, spool)
        return received

    def drop_kept(self, job_id: int) -> None:
        """A finished job's files kept between its attempts are no longer needed."""
        for kept in self._temp_dir.glob(f"job-{job_id}-*"):
            kept.unlink(missing_ok=True)

    def drop_stale(self, older_than_s: float = STALE_SPOOL_S) -> None:
        """Files left by a process that stopped mid-job and never came back for them."""
        if not self._temp_dir.is_dir():
            return
        horizon = time.time() - older_than_s
        for kept in self._temp_dir.iterdir():
            with suppress(FileNotFoundError):
                if kept.stat().st_mtime < horizon:
                    kept.unlink()

    async def upload_item(
        self,
        media: IncomingMedia,
        progress: Progress | None = None,
        record: Recorder | None = None,
    ) -> FileResult:
        """Like ``upload``, but a failure becomes a FAILED result that says why."""
        try:
            return await self.upload(media, progress, record)
        except Exception as error:  # one broken file must not take its batch down
            reason = error_text(error)  # an unexpected error is logged there, with a reference
            if isinstance(error, HostError):
                await self._host_error(error)
            return FileResult(
                media.file.filename, Outcome.FAILED, reason=reason, transient=_transient(error)
            )

    async def _host_error(self, error: HostError) -> None:
        """Counted for /stats and the metrics; counting never fails the answer."""
        try:
            await self._monitor.host_error(error)
        except Exception:  # the database may be unavailable too
            log.warning("could not count a host error", exc_info=True)
