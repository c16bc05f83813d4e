"""The backfill runner: walks a channel's history, oldest first, and re-hosts its attachments in
the background lane.

One runner works on a backfill at a time, across replicas (a lease in the store). It reads the
history a page at a time (up to 100 messages), uploads the page's attachments with the admin's
key, at most ``BACKFILL_CONCURRENCY`` at once and only in upload slots no live file waits for,
and writes each message's rows and the cursor past it in one transaction, in the history's
order: a restart, or another replica, goes on after the last message done. A file already
re-hosted (its source known to the upload history) is listed with its links and not sent
again. The host's limits pause the backfill rather than fail its rows: a rejected key, the
site's flood limit, a full disk, the host down; the admin hears it once, and a start again
(or, for an outage, the host's return) resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from bot.backfill.report import paused_reply, progress_reply, summary_reply
from bot.domain import Reply, UploadOptions, UploadRecord
from bot.errors import (
    HostDown,
    HostFlooding,
    HostFull,
    HostUnavailable,
    KeyRejected,
    MediaTooLarge,
    NotLinked,
    UnsupportedMedia,
)
from bot.jobs.outage import HostWatch
from bot.payloads import IncomingMedia
from bot.platform import Platform
from bot.platform.history import ChannelHistory, PostedFile, PostedMessage
from bot.store import Store
from bot.store.backfills import FINISHED, BackfillRecord, Counts, Row
from bot.texts import error_text, language_of, render
from bot.tuning import Tuning
from bot.upload.captions import clean_title
from bot.upload.outcomes import AlreadyThere, Failed, Uploaded
from bot.upload.service import UploadService

log = logging.getLogger(__name__)

PAGE = 100
"""Messages read per request: the most a platform gives at once."""
OUTAGE = "backfill.paused.down"
PAUSES: tuple[tuple[type[Exception], str], ...] = (
    (KeyRejected, "backfill.paused.key"),
    (NotLinked, "backfill.paused.key"),
    (HostFlooding, "backfill.paused.flooding"),
    (HostFull, "backfill.paused.full"),
    (HostDown, OUTAGE),
)
"""Failures that would fail every row after them: the backfill pauses instead, for this."""


@dataclass(frozen=True, slots=True)
class _Means:
    """What a backfill works with, from its runner."""

    store: Store
    service: UploadService
    tuning: Tuning
    worker: str
    watch: HostWatch | None
    concurrency: int


@dataclass(frozen=True, slots=True)
class _Done:
    """What became of one attachment: its row and what it adds to the counts; or, instead,
    why the backfill must pause."""

    row: Row | None = None
    counts: Counts = field(default_factory=Counts)
    pause: str | None = None


class BackfillRunner:
    """Runs the backfills of this process's platforms, one at a time."""

    def __init__(
        self,
        store: Store,
        service: UploadService,
        platforms: Mapping[str, Platform],
        tuning: Tuning,
        *,
        concurrency: int,
        watch: HostWatch | None = None,
    ) -> None:
        self._store = store
        self._platforms = platforms
        self._tuning = tuning
        self._watch = watch
        self._wake = asyncio.Event()
        self.worker = f"backfill-{uuid.uuid4().hex[:12]}"
        self._born = datetime.now(UTC)
        self._means = _Means(store, service, tuning, self.worker, watch, max(1, concurrency))

    def wake(self) -> None:
        """A backfill was started or resumed: look for it now."""
        self._wake.set()

    async def run(self) -> None:
        """Works on backfills until cancelled, then hands back the one it held."""
        helpers = [asyncio.create_task(self._after_outages())]
        try:
            await self._store.backfills.release_stale(self._born)
            while True:
                record = await self._claim()
                if record is None:
                    await self._idle()
                    continue
                await self._work(record)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            with contextlib.suppress(Exception):  # the database may be what goes away
                await self._store.backfills.release_of(self.worker)

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._tuning.poll_s * 20):
                await self._wake.wait()

    async def _claim(self) -> BackfillRecord | None:
        readers = [name for name, p in self._platforms.items() if isinstance(p, ChannelHistory)]
        if not readers:
            return None
        try:
            return await self._store.backfills.claim(self.worker, self._tuning.lease, readers)
        except Exception:  # the database may be restarting: try again later
            log.warning("could not claim a backfill", exc_info=True)
            return None

    async def _after_outages(self) -> None:
        """Backfills paused for a host outage go on when the host is back."""
        if self._watch is None:
            return
        while True:
            await self._watch.back()
            with contextlib.suppress(Exception):
                await self._store.backfills.resume_paused_for(OUTAGE)
            self.wake()

    async def _work(self, record: BackfillRecord) -> None:
        platform = self._platforms[record.channel.platform]
        assert isinstance(platform, ChannelHistory)
        work = _Backfill(self._means, record, platform)
        try:
            await work.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # the platform or the database failed: the lease hands it on
            log.warning("backfill %d broke; it goes on later", record.id, exc_info=True)
            await asyncio.sleep(self._tuning.poll_s * 20)


class _Backfill:
    """One backfill while this worker holds it."""

    def __init__(self, means: _Means, record: BackfillRecord, platform: Platform) -> None:
        self._means = means
        self._store = means.store
        self._tuning = means.tuning
        self._record = record
        self._platform = platform
        assert isinstance(platform, ChannelHistory)
        self._history: ChannelHistory = platform
        self._counts = record.counts
        self._read_from = record.read_from
        self._progress = record.progress
        self._shown_at = 0.0
        self._slots = asyncio.Semaphore(means.concurrency)
        self._letting_go = False

    async def run(self) -> None:
        """Reads and uploads to the end, then sends the summary. Meanwhile its lease is kept;
        once the backfill is no longer this worker's (stopped, or taken over after a stall),
        the work in flight is cancelled."""
        record = self._record
        log.info("backfill %d of channel %s: working", record.id, record.channel.id)
        reading = asyncio.create_task(self._read())
        keeper = asyncio.create_task(self._keep(reading))
        try:
            read_to_the_end = await reading
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not reading.cancelled() or (current is not None and current.cancelling()):
                raise
            log.info("backfill %d is no longer this worker's", record.id)
            return
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        if read_to_the_end and await self._store.backfills.finish(record.id, self._means.worker):
            log.info("backfill %d finished", record.id)
            await self._summary()

    async def _read(self) -> bool:
        """True once the history is read to its end (or the limit); False when it paused or is
        no longer this worker's."""
        record = self._record
        while self._counts.messages < record.options.limit:
            wanted = min(PAGE, record.options.limit - self._counts.messages)
            page = await self._history.history(
                record.channel, after=self._read_from, before=record.until_id, limit=wanted
            )
            if page and not await self._page(page):
                return False
            if len(page) < wanted:  # the history's end, before the command
                break
            await self._show_progress()
        self._letting_go = True
        return True

    async def _keep(self, reading: asyncio.Task[bool]) -> None:
        """Renews the lease every heartbeat; cancels ``reading`` once it is lost, unless the
        backfill is being let go of here (pausing, finishing)."""
        every = self._tuning.heartbeat.total_seconds()
        record, worker = self._record, self._means.worker
        while True:
            await asyncio.sleep(every)
            try:
                mine = await self._store.backfills.renew(record.id, worker, self._tuning.lease)
            except Exception as error:  # the database may be restarting: the next beat tries
                log.debug("could not renew backfill %d (%s)", record.id, type(error).__name__)
                continue
            if not mine and not self._letting_go:
                reading.cancel()
                return

    async def _page(self, page: list[PostedMessage]) -> bool:
        """Uploads a page's attachments at once (bounded), and writes each message's rows in
        order as they are done; False when the backfill paused or is no longer this worker's."""
        record = self._record
        sources = [f.file.source for m in page for f in m.files if f.file.source and not m.by_bot]
        known = await self._store.uploads.by_source(record.channel.platform, sources)
        tasks = {
            (message.id, index): asyncio.create_task(self._one(message, posted, known))
            for message in page
            if not message.by_bot
            for index, posted in enumerate(message.files)
        }
        try:
            for message in page:
                done = [
                    await tasks[(message.id, index)]
                    for index in range(len(message.files))
                    if not message.by_bot
                ]
                pause = next((d.pause for d in done if d.pause is not None), None)
                if pause is not None:
                    await self._pause(pause)
                    return False
                if not await self._advance(message, done):
                    return False
            return True
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _advance(self, message: PostedMessage, done: list[_Done]) -> bool:
        counts = self._counts.plus(Counts(messages=1))
        for one in done:
            counts = counts.plus(one.counts)
        rows = [one.row for one in done if one.row is not None]
        moved = await self._store.backfills.advance(
            self._record.id,
            self._means.worker,
            self._tuning.lease,
            rows=rows,
            cursor=message.id,
            counts=counts,
        )
        if moved:
            self._counts, self._read_from = counts, message.id
        return moved

    async def _one(
        self, message: PostedMessage, posted: PostedFile, known: Mapping[str, UploadRecord]
    ) -> _Done:
        """One attachment: skipped, already re-hosted, or uploaded (a failure that passes is
        tried again, as a job's is); or a reason to pause."""
        row = partial(_row, message, posted)
        source = posted.file.source
        record = known.get(source) if source else None
        if record is not None:
            links = (record.url_viewer, record.url, record.thumb_url)
            return _Done(row("already-rehosted", links), Counts(already=1))
        try:
            self._means.service.check(self._record.channel.platform, posted.file)
        except (UnsupportedMedia, MediaTooLarge) as refused:
            return _Done(row(f"skipped: {_why(refused)}"), Counts(skipped=1))
        async with self._slots:
            return await self._upload(message, posted, row)

    async def _upload(
        self, message: PostedMessage, posted: PostedFile, row: Callable[..., Row]
    ) -> _Done:
        record = self._record
        media = IncomingMedia(
            record.admin,
            record.channel,
            posted.file,
            partial(self._platform.fetch, posted.file),
            options=self._options(message, posted),
            background=True,
        )
        attempts = 0
        while True:
            attempts += 1
            outcome = await self._means.service.upload(media)
            if isinstance(outcome, Uploaded):
                image = outcome.image
                await self._store.uploads.record(
                    record.admin, record.channel, outcome.filename, image, source=posted.file.source
                )
                done = row("uploaded", (image.url_viewer, image.url, image.thumb_url))
                return _Done(done, Counts(uploaded=1))
            if isinstance(outcome, AlreadyThere):
                return _Done(row("duplicate"), Counts(duplicate=1))
            pause = self._pause_for(outcome)
            if pause is not None:
                return _Done(pause=pause)
            if not outcome.passing or attempts >= self._most_attempts():
                return _Done(row(f"failed: {_why(outcome.error)}"), Counts(failed=1))
            delays = self._tuning.retry_delays or (0.0,)
            await asyncio.sleep(delays[min(attempts, len(delays)) - 1])

    def _most_attempts(self) -> int:
        """A failure that passes is tried as a job's is, and at least until so many failures
        in a row would have the host declared down (then the backfill pauses instead): a
        host that is out fails no row, one that fails only this file does not hold it up."""
        return max(len(self._tuning.retry_delays) + 1, self._tuning.host_down_after)

    def _pause_for(self, failed: Failed) -> str | None:
        watch = self._means.watch
        if isinstance(failed.error, HostUnavailable) and watch and watch.down_since:
            return OUTAGE
        return next((key for kind, key in PAUSES if isinstance(failed.error, kind)), None)

    def _options(self, message: PostedMessage, posted: PostedFile) -> UploadOptions:
        record = self._record
        first = message.text.strip().split("\n", 1)[0] if message.text.strip() else None
        when = message.posted_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return UploadOptions(
            title=clean_title(first) or posted.file.filename,
            description=f"{message.url}\n{when}",
            album_id=record.options.album,
            nsfw=True if record.options.nsfw or posted.spoiler else None,
        )

    async def _pause(self, reason: str) -> None:
        record = self._record
        self._letting_go = True
        if await self._store.backfills.pause(record.id, self._means.worker, reason):
            log.info("backfill %d paused: %s", record.id, reason)
            reply = paused_reply(record, self._counts, reason)
            await self._tell(reply, edit=False)

    async def _show_progress(self, *, now: bool = False) -> None:
        """Edits the admin's progress message, at most every ``backfill_progress_s``."""
        moment = time.monotonic()
        if not now and moment - self._shown_at < self._tuning.backfill_progress_s:
            return
        self._shown_at = moment
        record = self._record
        if self._progress is None:  # the start's message may have been stored since the claim
            stored = await self._store.backfills.get(record.id)
            self._progress = stored.progress if stored is not None else None
        handle = await self._tell(progress_reply(record, self._counts), edit=True)
        if handle is not None and handle != self._progress:
            self._progress = handle
            await self._store.backfills.set_progress(record.id, handle)

    async def _summary(self) -> None:
        record = self._record
        reply = await summary_reply(self._store, record, self._counts, FINISHED)
        await self._tell(reply, edit=False)

    async def _tell(self, reply: Reply, *, edit: bool) -> str | None:
        """To the admin privately; a platform that cannot reach them there leaves /backfill
        status to show it."""
        record = self._record
        try:
            return await self._history.report(
                record.admin, reply, language_of(record.language), self._progress if edit else None
            )
        except Exception:  # a report is a courtesy: the backfill goes on
            log.warning("could not report backfill %d to its admin", record.id, exc_info=True)
            return None


Links = tuple[str | None, str | None, str | None]
"""An upload's viewer link, file link and thumbnail."""
NO_LINKS: Links = (None, None, None)


def _row(message: PostedMessage, posted: PostedFile, outcome: str, links: Links = NO_LINKS) -> Row:
    return Row(
        message.url,
        message.posted_at,
        posted.id,
        posted.file.filename,
        posted.url,
        outcome,
        *links,
    )


def _why(error: Exception) -> str:
    """A failure's sentence, short, in English: the CSV is data, read the same by everyone."""
    return render(error_text(error), "en").rstrip(".")
