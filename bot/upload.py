"""The upload service: checks, picks the key and options, fetches to disk, uploads, records."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

from bot.captions import clean_tags, clean_title, options_from_caption
from bot.chevereto import CheveretoClient, FileSource, Progress
from bot.domain import Outcome, UploadOptions, UserRef
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
from bot.store import Store, database_unavailable
from bot.texts import error_text

log = logging.getLogger(__name__)
MB = 1024 * 1024


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

    async def key_for(self, media: IncomingMedia) -> tuple[str, bool]:
        """The poster's key, else (in a mirrored chat) the enabling admin's, else the default;
        and whether it is the poster's own."""
        own = await self._store.keys.of(media.user)
        if own is not None:
            return own, True
        return await self._shared_key_for(media), False

    async def _shared_key_for(self, media: IncomingMedia) -> str:
        if not media.chat.is_private:
            chat = await self._store.chats.of(media.chat)
            if chat.mirror and chat.mirror_by is not None:
                admin = await self._store.keys.of(UserRef(media.user.platform, chat.mirror_by))
                if admin is not None:
                    return admin
        if self._default_key is not None:
            return self._default_key
        raise NotLinked

    async def options_for(self, media: IncomingMedia) -> UploadOptions:
        """User defaults < caption < per-upload options; the title and tags made clean."""
        prefs = await self._store.prefs.of(media.user)
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

    async def upload(self, media: IncomingMedia, progress: Progress | None = None) -> FileResult:
        """Uploads one file; a file already on the host is a result, other failures raise.

        An upload with a key that is not the user's own is counted against today's
        SHARED_KEY_DAILY_LIMIT before it starts, and uncounted if it did not happen.
        """
        self.check(media.user.platform, media.file)
        (key, own), options = await asyncio.gather(self.key_for(media), self.options_for(media))
        if own or not self.shared_key_daily_limit:
            return await self._upload(media, key, options, progress)
        if not await self._store.quota.take(media.user, self.shared_key_daily_limit):
            raise QuotaReached(self.shared_key_daily_limit)
        uploaded = False
        try:
            result = await self._upload(media, key, options, progress)
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
    ) -> FileResult:
        """Fetches to a temp file, streams it to the host, records the upload."""
        path = self._temp_dir / f"{uuid.uuid4().hex}.part"
        try:
            # A slot is held for the upload alone: the next file downloads meanwhile, so the
            # host's pace, not the platform's, sets the throughput.
            async with self._downloads:
                size = await self._fetch(media, path)
            async with self._slots:
                source = FileSource(path, media.file.filename, media.file.content_type)
                image = await self._client.upload(key, source, options, progress=progress)
        except Duplicate:
            return FileResult(media.file.filename, Outcome.DUPLICATE)
        finally:
            with suppress(FileNotFoundError):
                path.unlink()
        record = await self._store.uploads.record(
            media.user, media.chat, media.file.filename, image
        )
        return FileResult(media.file.filename, Outcome.UPLOADED, upload=record, size=size)

    async def _fetch(self, media: IncomingMedia, path: Path) -> int:
        """Downloads through the adapter, then checks the real size: a declared one can lie."""
        path.parent.mkdir(parents=True, exist_ok=True)
        await media.fetch(path)
        limit = self.limit_mb(media.user.platform)
        size = (await asyncio.to_thread(path.stat)).st_size
        if size > limit * MB:
            raise MediaTooLarge(limit)
        return size

    async def upload_item(
        self, media: IncomingMedia, progress: Progress | None = None
    ) -> FileResult:
        """Like ``upload``, but a failure becomes a FAILED result that says why."""
        try:
            return await self.upload(media, progress)
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
