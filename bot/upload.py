"""The upload service: checks, picks the key and options, fetches to disk, uploads, records."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

from bot.captions import clean_tags, clean_title, options_from_caption
from bot.chevereto import CheveretoClient, FileSource
from bot.domain import IncomingMedia, ItemResult, Outcome, Platform, UploadOptions, UserRef
from bot.errors import BotError, Duplicate, MediaTooLarge, NotLinked, UnsupportedMedia
from bot.store import Store

log = logging.getLogger(__name__)
MB = 1024 * 1024
Progress = Callable[[int, int], Awaitable[None]]
"""Called with (bytes sent, bytes in all) while a file goes out to the host."""


class UploadService:
    """Turns one IncomingMedia into an upload on the host, with every rule of SPEC applied."""

    def __init__(
        self,
        client: CheveretoClient,
        store: Store,
        *,
        limits_mb: Mapping[Platform, int],
        temp_dir: Path,
        concurrency: int,
        default_key: str | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._limits_mb = limits_mb
        self._temp_dir = temp_dir
        self._slots = asyncio.Semaphore(concurrency)
        self._downloads = asyncio.Semaphore(concurrency)
        self._default_key = default_key

    def limit_mb(self, platform: Platform) -> int:
        return self._limits_mb[platform]

    def check(self, media: IncomingMedia) -> None:
        """Refuses what is not an image or video, or is declared too large, before any download."""
        if media.kind is None:
            raise UnsupportedMedia(media.content_type or "unknown type")
        limit = self.limit_mb(media.user.platform)
        if media.size is not None and media.size > limit * MB:
            raise MediaTooLarge(limit)

    async def key_for(self, media: IncomingMedia) -> str:
        """The poster's key, else (in a mirrored chat) the enabling admin's, else the default."""
        own = await self._store.key_of(media.user)
        if own is not None:
            return own
        if not media.chat.is_private:
            chat = await self._store.chat(media.chat)
            if chat.mirror and chat.mirror_by is not None:
                admin = await self._store.key_of(UserRef(media.user.platform, chat.mirror_by))
                if admin is not None:
                    return admin
        if self._default_key is not None:
            return self._default_key
        raise NotLinked

    async def options_for(self, media: IncomingMedia) -> UploadOptions:
        """User defaults < caption < per-upload options; the title and tags made clean."""
        prefs = await self._store.prefs(media.user)
        defaults = UploadOptions(
            expiration=prefs.expiration, nsfw=prefs.nsfw, album_id=prefs.album_id
        )
        options = media.options.over(options_from_caption(media.caption).over(defaults))
        return replace(options, title=clean_title(options.title), tags=clean_tags(options.tags))

    async def upload(self, media: IncomingMedia, progress: Progress | None = None) -> ItemResult:
        """Uploads one file; a file already on the host is a result, other failures raise."""
        self.check(media)
        key, options = await asyncio.gather(self.key_for(media), self.options_for(media))
        path = self._temp_dir / f"{uuid.uuid4().hex}.part"
        try:
            # A slot is held for the upload alone: the next file downloads meanwhile, so the
            # host's pace, not the platform's, sets the throughput.
            async with self._downloads:
                await self._fetch(media, path)
            async with self._slots:
                source = FileSource(path, media.filename, media.content_type)
                image = await self._client.upload(key, source, options, progress=progress)
        except Duplicate:
            return ItemResult(media.filename, Outcome.DUPLICATE)
        finally:
            with suppress(FileNotFoundError):
                path.unlink()
        upload_id = await self._store.record_upload(media.user, media.chat, media.filename, image)
        return ItemResult(media.filename, Outcome.UPLOADED, image=image, upload_id=upload_id)

    async def _fetch(self, media: IncomingMedia, path: Path) -> None:
        """Downloads through the adapter, then checks the real size: a declared one can lie."""
        path.parent.mkdir(parents=True, exist_ok=True)
        await media.fetch(path)
        limit = self.limit_mb(media.user.platform)
        if (await asyncio.to_thread(path.stat)).st_size > limit * MB:
            raise MediaTooLarge(limit)

    async def upload_item(
        self, media: IncomingMedia, progress: Progress | None = None
    ) -> ItemResult:
        """Like ``upload``, but a failure becomes a FAILED result that carries its error."""
        try:
            return await self.upload(media, progress)
        except BotError as error:
            return ItemResult(media.filename, Outcome.FAILED, error=error)
        except Exception as error:  # one broken file must not take its batch down
            log.exception("upload of one file failed unexpectedly")
            return ItemResult(media.filename, Outcome.FAILED, error=error)

    async def upload_batch(self, medias: list[IncomingMedia]) -> list[ItemResult]:
        """Every file of an album or a message, concurrently; one result per file, in order."""
        return list(await asyncio.gather(*(self.upload_item(m) for m in medias)))
