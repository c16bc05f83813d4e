"""The upload service: checks, picks the key and options, fetches to disk, uploads, records."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.chevereto import CheveretoClient, FileSource, Progress, StreamSource
from bot.domain import EmbedForm, HostImage, Outcome, Text, UploadOptions, UserRef
from bot.errors import (
    Duplicate,
    HostError,
    HostUnavailable,
    MediaTooLarge,
    NotLinked,
    QuotaReached,
    SourceInfoRefused,
    SourceTooSlow,
    SourceUnavailable,
    UnsupportedMedia,
)
from bot.links.fetcher import LinkFetcher, check_link
from bot.ops.monitor import Monitor
from bot.payloads import Fetch, FileRef, FileResult, IncomingMedia
from bot.store import Store, database_unavailable
from bot.store.uploads import NewUpload
from bot.texts import error_text, t
from bot.transfer import Floor, Pace
from bot.upload.options import upload_options
from bot.upload.pipe import Pipe
from bot.upload.spool import (
    Sending,
    describe,
    described,
    download_to,
    drop_kept,
    drop_stale,
    forget,
    kept_size,
)

log = logging.getLogger(__name__)
MB = 1024 * 1024
LINK_LIMIT_MB = 50
"""A link's size limit when no fetcher is given: MAX_UPLOAD_MB's default."""
Recorder = Callable[[NewUpload, int], Awaitable[FileResult]]
"""Keeps a finished upload (and the bytes it sent) and says what became of its file. A job's
runner records it together with the job's results, in one transaction (``JobState``)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How one file is uploaded: with which key (the user's own or not), which options, and
    what its answer carries besides the links."""

    key: str = field(repr=False)
    own: bool
    options: UploadOptions
    form: EmbedForm


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
        links: LinkFetcher | None = None,
        floor: Floor | None = None,
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
        self._default_key = default_key
        self._links = links or LinkFetcher(allow_private=False, limit_bytes=LINK_LIMIT_MB * MB)
        """Fetches the links users send, itself: the core gives one that follows
        FETCH_PRIVATE_ADDRESSES and MAX_UPLOAD_MB (not a platform's limit: no platform
        downloads a link)."""
        self._floor = floor or Floor()
        """The slowest a platform's download may go (MIN_TRANSFER_KBPS)."""

    def check(self, platform: str, file: FileRef) -> None:
        """Refuses what is not an image or video, or is declared too large, before any download.
        A link is only checked to be one: its type and size are judged as it comes."""
        if file.link:
            check_link(file.locator)
            return
        if file.kind is None:
            raise UnsupportedMedia(file.content_type or "unknown type")
        limit = self.limit_mb(platform)
        if file.size is not None and file.size > limit * MB:
            raise MediaTooLarge(limit)

    async def plan(self, media: IncomingMedia) -> Plan:
        """The key (the poster's, else in a mirrored chat the enabling admin's, else the
        default), whether it is the poster's own, the options and the answer's form; the
        uploader's key and defaults are read together, in one session."""
        profile = await self._store.profiles.of(media.user, media.chat)
        key = profile.key or self._default_key
        if key is None:
            raise NotLinked
        options = upload_options(media, profile.prefs)
        return Plan(key, profile.own, options, profile.prefs.embed_form)

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
        plan = await self.plan(media)
        record = record or self._record
        if plan.own or not self.shared_key_daily_limit:
            return await self._upload(media, plan, progress, record)
        if not await self._store.quota.take(media.user, self.shared_key_daily_limit):
            raise QuotaReached(self.shared_key_daily_limit)
        uploaded = False
        try:
            result = await self._upload(media, plan, progress, record)
            uploaded = result.outcome is Outcome.UPLOADED
            return result
        finally:
            if not uploaded:
                await self._store.quota.give_back(media.user)

    async def _upload(
        self,
        media: IncomingMedia,
        plan: Plan,
        progress: Progress | None,
        record: Recorder,
    ) -> FileResult:
        """Sends the file to the host and records the upload. A file kept from an earlier
        attempt is sent from disk; otherwise it goes through the pipe, download and upload
        at once. The kept file is dropped once the outcome is final."""
        spool = self._temp_dir / (media.spool or f"{uuid.uuid4().hex}.once")
        spool.parent.mkdir(parents=True, exist_ok=True)
        keep = False
        sending = Sending(media.file.filename, media.file.content_type)
        note: Text | None = None
        try:
            try:
                size, image = await self._send(media, spool, plan, progress, sending)
            except SourceInfoRefused:
                width = plan.options.width
                if width is None:
                    raise
                log.info("the host refused width %d; sending the image at its own width", width)
                plan = replace(plan, options=replace(plan.options, width=None))
                note = t("upload.width_dropped", width=width)
                size, image = await self._send(media, spool, plan, progress, sending)
        except Duplicate:
            return FileResult(sending.filename, Outcome.DUPLICATE)
        except Exception as error:
            keep = media.spool is not None and _transient(error)
            raise
        finally:
            if not keep:
                forget(spool)
        new = NewUpload(media.user, media.chat, sending.filename, image, plan.form, note)
        return await record(new, size)

    async def _record(self, new: NewUpload, size: int) -> FileResult:
        """An upload made outside a job is recorded alone."""
        record = await self._store.uploads.record(new.user, new.chat, new.filename, new.image)
        return new.result(record, size)

    async def _send(
        self,
        media: IncomingMedia,
        spool: Path,
        plan: Plan,
        progress: Progress | None,
        sending: Sending,
    ) -> tuple[int, HostImage]:
        """The size sent and the host's answer. One slot of UPLOAD_CONCURRENCY covers the
        download and the upload, which run at once."""
        async with self._slots:
            size = await kept_size(spool)
            if size is not None:  # kept from an earlier attempt: sent as it was described then
                if media.file.link:
                    described(sending, spool)
            elif media.file.link:
                return await self._link(media.file.locator, spool, plan, progress, sending)
            elif media.file.size is not None:
                return await self._piped(
                    media.fetch,
                    spool,
                    sending,
                    declared=media.file.size,
                    limit_mb=self.limit_mb(media.user.platform),
                    plan=plan,
                    progress=progress,
                    pace=self._download_pace(),
                )
            else:  # no Content-Length to give first
                limit_mb = self.limit_mb(media.user.platform)
                size = await download_to(spool, media.fetch, limit_mb, self._download_pace())
            return size, await self._from_disk(spool, plan, progress, sending)

    async def _link(
        self,
        link: str,
        spool: Path,
        plan: Plan,
        progress: Progress | None,
        sending: Sending,
    ) -> tuple[int, HostImage]:
        """The file at a link, fetched by the bot itself (the host never sees the link) and
        sent under the name and type its download gave it: through the pipe when its server
        said its size, else to disk first. Its name is kept beside the file for a next try."""
        async with self._links.open(link) as download:
            sending.filename, sending.content_type = download.filename, download.content_type
            describe(sending, spool)
            if download.size is not None:
                return await self._piped(
                    download.chunks,
                    spool,
                    sending,
                    declared=download.size,
                    limit_mb=self._links.limit_mb,
                    plan=plan,
                    progress=progress,
                    pace=download.pace,
                )
            size = await download_to(spool, download.chunks, self._links.limit_mb, download.pace)
        return size, await self._from_disk(spool, plan, progress, sending)

    def _download_pace(self) -> Pace:
        """A chat platform's download, cut when it moves under the floor."""
        return Pace(self._floor, lambda: SourceTooSlow("the platform's download was too slow"))

    async def _from_disk(
        self, spool: Path, plan: Plan, progress: Progress | None, sending: Sending
    ) -> HostImage:
        source = FileSource(spool, sending.filename, sending.content_type)
        return await self._client.upload(plan.key, source, plan.options, progress=progress)

    async def _piped(
        self,
        chunks: Fetch,
        spool: Path,
        sending: Sending,
        *,
        declared: int,
        limit_mb: int,
        plan: Plan,
        progress: Progress | None,
        pace: Pace,
    ) -> tuple[int, HostImage]:
        """The upload fed by the download as it arrives (``bot.upload.pipe``), the download at
        its source's ``pace``. When the host fails, the download still goes to the end, so the
        next attempt sends the kept file."""
        pipe = Pipe(chunks, spool, declared=declared, limit_mb=limit_mb, pace=pace)
        await pipe.start()
        source = StreamSource(pipe.body, declared, sending.filename, sending.content_type)
        try:
            image = await self._client.upload(plan.key, source, plan.options, progress=progress)
        except HostError:
            with suppress(Exception):  # a download that broke too leaves no file to keep
                await pipe.finished()
            raise
        except BaseException:
            await pipe.close()
            raise
        await pipe.finished()
        return declared, image

    def drop_kept(self, job_id: int) -> None:
        """A finished job's files kept between its attempts are no longer needed."""
        drop_kept(self._temp_dir, job_id)

    def drop_stale(self) -> None:
        """Files left by a process that stopped mid-job and never came back for them."""
        drop_stale(self._temp_dir)

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
