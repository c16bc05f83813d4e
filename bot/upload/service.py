"""The upload service: one file to the host, and what became of it.

It checks the file, picks the key and the options, moves the bytes within the lanes
(``bot.jobs.lanes``) and returns an outcome (``bot.upload.outcomes``). It records nothing and
calls nobody back: progress is in the ``Transfer`` it keeps up to date, and the caller keeps
the outcome.

A platform's file goes through the pipe: download and upload at once, one upload slot for
both. A link is fetched by the bot itself (the host never sees it) to the spool file in the
link lane, and takes an upload slot only once its file is whole on disk, so a stranger's slow
server never holds an upload slot. Either way the bytes stay on disk until the outcome is
final, so a later attempt sends them without fetching again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.chevereto import CheveretoClient, FileSource, StreamSource
from bot.domain import Borrowed, EmbedForm, HostImage, Text, UploadOptions, UserRef
from bot.errors import (
    Duplicate,
    HostDown,
    HostError,
    MediaTooLarge,
    NotLinked,
    QuotaReached,
    SourceInfoRefused,
    SourceTooSlow,
    UnsupportedMedia,
)
from bot.jobs.lanes import Lanes
from bot.jobs.outage import HostWatch
from bot.links.fetcher import LinkFetcher, check_link
from bot.ops.monitor import Monitor
from bot.ops.transfer import Floor, Pace
from bot.payloads import FileRef, IncomingMedia
from bot.store import Store
from bot.texts import t
from bot.upload.options import upload_options
from bot.upload.outcomes import AlreadyThere, Failed, Outcome, Uploaded
from bot.upload.pipe import Pipe
from bot.upload.progress import Transfer, Waiting
from bot.upload.spool import (
    Sending,
    download_to,
    drop_kept,
    drop_stale,
    forget,
    keep_name,
    kept_name,
    kept_size,
)

log = logging.getLogger(__name__)
MB = 1024 * 1024
LINK_LIMIT_MB = 50
"""A link's size limit when no fetcher is given: MAX_UPLOAD_MB's default."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How one file is uploaded: with which key (the user's own or not), which options, and
    what its answer carries besides the links."""

    key: str = field(repr=False)
    own: bool
    options: UploadOptions
    form: EmbedForm
    borrowed: Borrowed | None = None
    """Whose key it is when it is not the uploader's own."""


class UploadService:
    """Turns one IncomingMedia into an upload on the host, every rule of the core applied."""

    def __init__(
        self,
        client: CheveretoClient,
        store: Store,
        *,
        limit_mb: Callable[[str], int],
        temp_dir: Path,
        lanes: Lanes,
        monitor: Monitor,
        default_key: str | None = None,
        shared_key_daily_limit: int = 0,
        links: LinkFetcher | None = None,
        floor: Floor | None = None,
        watch: HostWatch | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._monitor = monitor
        self.shared_key_daily_limit = shared_key_daily_limit
        """Uploads per user and UTC day with a key not their own; 0 means no limit."""
        self.limit_mb = limit_mb
        """The size limit of a platform, by its name."""
        self._temp_dir = temp_dir
        self.lanes = lanes
        self._default_key = default_key
        self._links = links or LinkFetcher(allow_private=False, limit_bytes=LINK_LIMIT_MB * MB)
        """Fetches the links users send, itself: the core gives one that follows
        FETCH_PRIVATE_ADDRESSES and MAX_UPLOAD_MB (not a platform's limit: no platform
        downloads a link)."""
        self._watch = watch
        """The host up or down: told of every answer, asked before every upload."""
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
        uploader's key and defaults are read together, in one session. Background work goes
        up with the user's own key or not at all: a bulk upload into someone else's account
        was never asked for."""
        profile = await self._store.profiles.of(media.user, media.chat)
        key = profile.key or self._default_key
        if key is None or (media.background and not profile.own):
            raise NotLinked
        options = upload_options(media, profile.prefs)
        borrowed = None if profile.own else Borrowed.ADMIN if profile.key else Borrowed.SHARED
        return Plan(key, profile.own, options, profile.prefs.embed_form, borrowed)

    async def over_quota(self, user: UserRef) -> bool:
        """Whether the user, having no key of their own, has used today's shared-key uploads."""
        if not self.shared_key_daily_limit:
            return False
        used = await self._store.quota.used_unless_linked(user)
        return used is not None and used >= self.shared_key_daily_limit

    async def upload(self, media: IncomingMedia, transfer: Transfer | None = None) -> Outcome:
        """Uploads one file and says what became of it; nothing raised but a cancellation.

        An upload with a key that is not the user's own is counted against today's
        SHARED_KEY_DAILY_LIMIT before it starts, and uncounted if it did not happen.
        """
        transfer = transfer or Transfer()
        try:
            self.check(media.user.platform, media.file)
            plan = await self.plan(media)
            outcome = await self._counted(media, plan, transfer)
        except Exception as error:  # one broken file must not take its batch down
            if isinstance(error, HostError):
                await self._host_error(error)
            return Failed(media.file.filename, error)
        self._heard(None)
        return outcome

    async def _counted(self, media: IncomingMedia, plan: Plan, transfer: Transfer) -> Outcome:
        """The upload, with one of today's shared-key uploads taken for a key not the user's
        own, and given back unless the file went up."""
        shared = not plan.own and bool(self.shared_key_daily_limit)
        if shared and not await self._store.quota.take(media.user, self.shared_key_daily_limit):
            raise QuotaReached(self.shared_key_daily_limit)
        uploaded = False
        try:
            outcome = await self._upload(media, plan, transfer)
            uploaded = isinstance(outcome, Uploaded)
            return outcome
        finally:
            if shared and not uploaded:
                await self._store.quota.give_back(media.user)

    async def _upload(self, media: IncomingMedia, plan: Plan, transfer: Transfer) -> Outcome:
        """Sends the file; a host that refuses the width gets it once more at its own width.
        The kept file is dropped once the outcome is final."""
        spool = self._temp_dir / (media.spool or f"{uuid.uuid4().hex}.once")
        spool.parent.mkdir(parents=True, exist_ok=True)
        sending = Sending(media.file.filename, media.file.content_type)
        note: Text | None = None
        keep = False
        try:
            try:
                size, image = await self._send(media, spool, plan, sending, transfer)
            except SourceInfoRefused:
                width = plan.options.width
                if width is None:
                    raise
                log.info("the host refused width %d; sending the image at its own width", width)
                plan = replace(plan, options=replace(plan.options, width=None))
                note = t("upload.width_dropped", width=width)
                size, image = await self._send(media, spool, plan, sending, transfer)
        except Duplicate:
            return AlreadyThere(sending.filename)
        except Exception as error:
            keep = media.spool is not None and Failed(sending.filename, error).passing
            raise
        finally:
            if not keep:
                forget(spool)
        return Uploaded(sending.filename, image, size, plan.form, note, plan.borrowed)

    async def _send(
        self,
        media: IncomingMedia,
        spool: Path,
        plan: Plan,
        sending: Sending,
        transfer: Transfer,
    ) -> tuple[int, HostImage]:
        """The size sent and the host's answer. A link is fetched to disk first, in the link
        lane; then one upload slot covers the platform's download and the upload together."""
        kept = await kept_size(spool)
        if media.file.link and kept is None:
            kept = await self._fetch_link(media, spool, sending, transfer)
        elif media.file.link:
            kept_name(sending, spool)
        if self._watch is not None and self._watch.down_since is not None:
            raise HostDown("the host is down: nothing is sent until it is back")
        async with self.lanes.uploads.slot(media.user, background=media.background):
            if kept is not None:
                return kept, await self._from_disk(spool, plan, sending, transfer)
            limit_mb = self.limit_mb(media.user.platform)
            if media.file.size is None:  # no Content-Length to give first
                size = await download_to(spool, media.fetch, limit_mb, self._download_pace())
                return size, await self._from_disk(spool, plan, sending, transfer)
            pipe = Pipe(
                media.fetch,
                spool,
                declared=media.file.size,
                limit_mb=limit_mb,
                pace=self._download_pace(),
            )
            return media.file.size, await self._piped(pipe, plan, sending, transfer)

    async def _fetch_link(
        self, media: IncomingMedia, spool: Path, sending: Sending, transfer: Transfer
    ) -> int:
        """The file at a link, to disk, under the name and type its download gave it (kept
        beside the file for a next attempt), in the link lane: at most two of one user's links
        at once, which the status message says when more wait."""
        transfer.waiting = Waiting.LINK_LANE
        async with self.lanes.links.slot(media.user):
            transfer.waiting = None
            async with self._links.open(media.file.locator) as download:
                sending.filename, sending.content_type = download.filename, download.content_type
                keep_name(sending, spool)
                return await download_to(
                    spool, download.chunks, self._links.limit_mb, download.pace
                )

    def _download_pace(self) -> Pace:
        """A chat platform's download, cut when it moves under the floor."""
        return Pace(self._floor, lambda: SourceTooSlow("the platform's download was too slow"))

    async def _from_disk(
        self, spool: Path, plan: Plan, sending: Sending, transfer: Transfer
    ) -> HostImage:
        source = FileSource(spool, sending.filename, sending.content_type)
        return await self._client.upload(plan.key, source, plan.options, progress=transfer.report)

    async def _piped(
        self, pipe: Pipe, plan: Plan, sending: Sending, transfer: Transfer
    ) -> HostImage:
        """The upload fed by the download as it arrives (``bot.upload.pipe``). When the host
        fails, the download still goes to the end, so the next attempt sends the kept file."""
        await pipe.start()
        source = StreamSource(pipe.body, pipe.declared, sending.filename, sending.content_type)
        try:
            image = await self._client.upload(
                plan.key, source, plan.options, progress=transfer.report
            )
        except HostError:
            with suppress(Exception):  # a download that broke too leaves no file to keep
                await pipe.finished()
            raise
        except BaseException:
            await pipe.close()
            raise
        await pipe.finished()
        return image

    def drop_kept(self, job_id: int) -> None:
        """A finished job's files kept between its attempts are no longer needed."""
        drop_kept(self._temp_dir, job_id)

    def drop_stale(self) -> None:
        """Files left by a process that stopped mid-job and never came back for them."""
        drop_stale(self._temp_dir)

    def _heard(self, error: HostError | None) -> None:
        """What the host came to: an answer (None) or its error, for the watch."""
        if self._watch is not None:
            self._watch.report(error)

    async def _host_error(self, error: HostError) -> None:
        """Told to the watch, counted for /stats and the metrics; counting never fails the
        answer."""
        self._heard(error)
        if isinstance(error, HostDown):
            return
        try:
            await self._monitor.host_error(error)
        except Exception:  # the database may be unavailable too
            log.warning("could not count a host error", exc_info=True)
