"""What becomes of media someone posted or asked to upload: a job, one clear refusal, or nothing.

Both adapters come through here, so the rules are said once: private chats and
explicit requests are answered even when refused; mirrored chats upload every
image and video and ignore everything else; other groups are left alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from bot.access import Access
from bot.domain import Reply, UserRef
from bot.errors import BotError, QuotaReached, RateLimited
from bot.jobs.runner import JobRunner
from bot.payloads import FileRef, JobSpec
from bot.store import Store
from bot.texts import error_text, t
from bot.tuning import MAX_ALBUM_ITEMS, MAX_WAITING_JOBS
from bot.upload.service import UploadService

log = logging.getLogger(__name__)


NOTICE_EVERY_S = 60.0
"""A flooding user is told once a minute, not once per refused file."""


def _may_upload(item: FileRef) -> bool:
    """An image or a video, or a link, whose file is judged once fetched."""
    return item.link or item.kind is not None


class Intake:
    def __init__(
        self,
        store: Store,
        service: UploadService,
        runner: JobRunner,
        access: Access | None = None,
        *,
        max_waiting_jobs: int = MAX_WAITING_JOBS,
        max_album_items: int = MAX_ALBUM_ITEMS,
    ) -> None:
        self._store = store
        self._service = service
        self._runner = runner
        self._access = access or Access(frozenset(), frozenset(), frozenset())
        self._max_waiting_jobs = max_waiting_jobs
        self._max_album_items = max_album_items
        self._noticed: dict[UserRef, float] = {}
        self._admitting: defaultdict[UserRef, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def posted(self, spec: JobSpec, *, group_key: str | None = None) -> Reply | None:
        """Media posted in a chat, not asked for by a command."""
        if spec.chat.is_private:
            return await self.requested(spec, group_key=group_key)
        if not (await self._store.chats.of(spec.chat)).mirror:
            return None
        if not self._access.allows(spec.user, spec.chat):
            return self._access.refusal(spec.user)
        # Only posted files are mirrored: a link (whose kind is unknown) is not fetched here,
        # and neither is a sticker.
        keep = [
            i for i, item in enumerate(spec.items) if item.kind is not None and not item.sticker
        ]
        if not keep:
            return None
        if await self._service.over_quota(spec.user):
            first = await self._store.notices.first_today(spec.user, "quota")
            return (
                Reply(error_text(QuotaReached(self._service.shared_key_daily_limit)))
                if first
                else None
            )
        return await self._admit(spec.keeping(keep), group_key)

    async def requested(
        self,
        spec: JobSpec,
        *,
        group_key: str | None = None,
        accept: Callable[[JobSpec], Awaitable[JobSpec]] | None = None,
    ) -> Reply | None:
        """An explicit request (a private chat, /upload, a context menu): always answered.

        A lone file that cannot be uploaded is refused at once, before any download (a link
        that is not one too; what a link gives is judged once it comes); among several, files
        that are no image or video are left out. ``accept`` runs
        only for a request that becomes a job: the platform acknowledges it there (an
        interaction is deferred, say) and may say where the answer goes.
        """
        if not self._access.allows(spec.user, spec.chat):
            return self._access.refusal(spec.user)
        if len(spec.items) > 1:
            spec = spec.keeping([i for i, item in enumerate(spec.items) if _may_upload(item)])
        if not spec.items:
            return Reply(t("upload.not_media"))
        if await self._service.over_quota(spec.user):
            refusal = self._quota_refusal()
            return refusal if group_key is None else self._notice(spec.user, refusal)
        if len(spec.items) == 1 and group_key is None:
            try:
                self._service.check(spec.user.platform, spec.items[0])
            except BotError as error:
                return Reply(error_text(error))
        return await self._admit(spec, group_key, accept)

    async def _admit(
        self,
        spec: JobSpec,
        group_key: str | None,
        accept: Callable[[JobSpec], Awaitable[JobSpec]] | None = None,
    ) -> Reply | None:
        """Stores the job (or the album item), unless the user has too many waiting.

        One user's files are admitted one at a time, so that a burst of them (events and
        webhook updates may come concurrently) cannot pass the count together.
        """
        if group_key is not None:  # each platform names its albums; the core keeps them apart
            group_key = f"{spec.user.platform}:{group_key}"
        async with self._admitting[spec.user]:
            try:
                if (accept is not None or group_key is not None) and await self._flooding(
                    spec, group_key
                ):
                    raise RateLimited()
                if accept is not None:
                    spec = await accept(spec)
                if group_key is None:
                    # the count of the user's waiting jobs is taken again in the job's insert
                    await self._runner.submit(spec, waiting_below=self._max_waiting_jobs)
                else:
                    await self._runner.collect(spec, group_key, self._max_album_items)
            except RateLimited:
                return self._notice(spec.user, Reply(error_text(RateLimited())))
            return None

    async def _flooding(self, spec: JobSpec, group_key: str | None) -> bool:
        """Counted before the job is written where the platform must be told first (``accept``)
        or for an album, which counts as one upload, so its later items still join it."""
        waiting = await self._store.jobs.waiting_of(spec.user.platform, spec.user.id)
        if waiting < self._max_waiting_jobs:
            return False
        return group_key is None or not await self._store.jobs.collecting(group_key)

    def _quota_refusal(self) -> Reply:
        return Reply(error_text(QuotaReached(self._service.shared_key_daily_limit)))

    def _notice(self, user: UserRef, reply: Reply) -> Reply | None:
        """A refusal said once a minute per user, not once per refused file of a flood."""
        moment = time.monotonic()
        if moment - self._noticed.get(user, -NOTICE_EVERY_S) < NOTICE_EVERY_S:
            return None
        self._noticed[user] = moment
        log.info("refused uploads from one user: %s", reply.text.key)
        return reply
