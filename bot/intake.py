"""What becomes of media someone posted or asked to upload: a job, one clear refusal, or nothing.

Both adapters come through here, so the rules are said once: private chats and
explicit requests are answered even when refused; mirrored chats upload every
image and video and ignore everything else; other groups are left alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.domain import IncomingMedia, Reply
from bot.errors import BotError
from bot.jobs import JobRunner, JobSpec
from bot.store import Store
from bot.texts import error_text, t
from bot.upload import UploadService


class Intake:
    def __init__(self, store: Store, service: UploadService, runner: JobRunner) -> None:
        self._store = store
        self._service = service
        self._runner = runner

    async def posted(
        self, spec: JobSpec, medias: list[IncomingMedia], *, group_key: str | None = None
    ) -> Reply | None:
        """Media posted in a chat, not asked for by a command."""
        if spec.chat.is_private:
            return await self.requested(spec, medias, group_key=group_key)
        if not (await self._store.chat(spec.chat)).mirror:
            return None
        keep = [i for i, media in enumerate(medias) if media.kind is not None]
        if keep:
            await self._submit(replace(spec, items=[spec.items[i] for i in keep]), group_key)
        return None

    async def requested(
        self,
        spec: JobSpec,
        medias: list[IncomingMedia],
        *,
        group_key: str | None = None,
        accept: Callable[[JobSpec], Awaitable[JobSpec]] | None = None,
    ) -> Reply | None:
        """An explicit request (a private chat, /upload, a context menu): always answered.

        A lone file that cannot be uploaded is refused at once, before any download;
        among several, files that are no image or video are left out. ``accept`` runs
        only for a request that becomes a job: the platform acknowledges it there (a
        Discord interaction is deferred) and may say where the answer goes.
        """
        if len(medias) > 1:
            keep = [i for i, media in enumerate(medias) if media.kind is not None]
            spec, medias = (
                replace(spec, items=[spec.items[i] for i in keep]),
                [medias[i] for i in keep],
            )
        if not medias:
            return Reply(t("upload.not_media"))
        if len(medias) == 1 and group_key is None:
            try:
                self._service.check(medias[0])
            except BotError as error:
                return Reply(error_text(error))
        if accept is not None:
            spec = await accept(spec)
        await self._submit(spec, group_key)
        return None

    async def _submit(self, spec: JobSpec, group_key: str | None) -> None:
        if group_key is None:
            await self._runner.submit(spec)
        else:
            await self._runner.collect(spec, group_key)
