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
    HostUnavailable,
    MediaTooLarge,
    NotLinked,
    SourceUnavailable,
    UnsupportedMedia,
)
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
        default_key: str | None = None,
    ) -> None:
        self._client = client
        self._store = store
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

    async def key_for(self, media: IncomingMedia) -> str:
        """The poster's key, else (in a mirrored chat) the enabling admin's, else the default."""
        own = await self._store.keys.of(media.user)
        if own is not None:
            return own
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

    async def upload(self, media: IncomingMedia, progress: Progress | None = None) -> FileResult:
        """Uploads one file; a file already on the host is a result, other failures raise."""
        self.check(media.user.platform, media.file)
        key, options = await asyncio.gather(self.key_for(media), self.options_for(media))
        path = self._temp_dir / f"{uuid.uuid4().hex}.part"
        try:
            # A slot is held for the upload alone: the next file downloads meanwhile, so the
            # host's pace, not the platform's, sets the throughput.
            async with self._downloads:
                await self._fetch(media, path)
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
        return FileResult(media.file.filename, Outcome.UPLOADED, upload=record)

    async def _fetch(self, media: IncomingMedia, path: Path) -> None:
        """Downloads through the adapter, then checks the real size: a declared one can lie."""
        path.parent.mkdir(parents=True, exist_ok=True)
        await media.fetch(path)
        limit = self.limit_mb(media.user.platform)
        if (await asyncio.to_thread(path.stat)).st_size > limit * MB:
            raise MediaTooLarge(limit)

    async def upload_item(
        self, media: IncomingMedia, progress: Progress | None = None
    ) -> FileResult:
        """Like ``upload``, but a failure becomes a FAILED result that says why."""
        try:
            return await self.upload(media, progress)
        except Exception as error:  # one broken file must not take its batch down
            reason = error_text(error)  # an unexpected error is logged there, with a reference
            return FileResult(
                media.file.filename, Outcome.FAILED, reason=reason, transient=_transient(error)
            )
