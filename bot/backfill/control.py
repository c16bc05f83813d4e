"""``/backfill start|status|stop``: the rules, whatever platform asks.

A backfill uploads with the key of the admin who starts it, into their account: no key of
their own, no backfill. One channel has one backfill at a time: ``start`` while one runs says
so, and while one is paused goes on with it. Without a date it goes on after where the
channel's last finished backfill stopped reading. Its reports go to the admin privately; when
that cannot be, ``status`` shows what a report would have (the CSV too, once it ended).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from bot.backfill.report import progress_reply, summary_reply
from bot.backfill.runner import BackfillRunner
from bot.commands import Context, parse_album
from bot.domain import Reply, Text, Visibility
from bot.platform.history import ChannelHistory
from bot.store import Store
from bot.store.backfills import STOPPED, BackfillOptions, BackfillRecord
from bot.texts import language_of, t

MOST_MESSAGES = 100_000
DEFAULT_MESSAGES = 1000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class BackfillAsk:
    """A ``/backfill start`` as the platform saw it: where, with which options, the command's
    own moment as a message id (history is read before it), how to name the first message of
    a day, and why not, if the platform found a reason (not an admin, a permission missing)."""

    channel_name: str
    until_id: str
    first_id_on: Callable[[datetime], str]
    """The id of the first message that could be posted at that moment."""
    since: str | None = None
    limit: int | None = None
    album: str | None = None
    nsfw: bool = False
    estimate: int | None = None
    refusal: Text | None = None


def _private(text: Text) -> Reply:
    return Reply(text, visibility=Visibility.USER_ONLY)


class BackfillControl:
    """The backfill commands, on the store, the runner and the platforms that can read history."""

    def __init__(
        self,
        store: Store,
        runner: BackfillRunner,
        platforms: Mapping[str, object],
    ) -> None:
        self._store = store
        self._runner = runner
        self._platforms = platforms

    async def start(self, ctx: Context, ask: BackfillAsk) -> Reply:
        refusal = await self._refusal(ctx, ask)
        if refusal is not None:
            return _private(refusal)
        active = await self._store.backfills.latest(ctx.chat)
        if active is not None and active.active:
            return await self._already(active)
        since = _day(ask.since)
        after = (
            ask.first_id_on(datetime.combine(since, time(), UTC))
            if since is not None
            else await self._store.backfills.read_up_to(ctx.chat)
        )
        limit = DEFAULT_MESSAGES if ask.limit is None else ask.limit
        album = parse_album(ask.album) if ask.album else None
        options = BackfillOptions(ask.channel_name, since, limit, album, ask.nsfw, ask.estimate)
        record = await self._store.backfills.start(
            ctx.user, ctx.chat, ctx.language, options, after_id=after, until_id=ask.until_id
        )
        if record is None:  # another replica started one this very moment
            return _private(t("backfill.running"))
        self._runner.wake()
        shown = await self._report(record, progress_reply(record, record.counts), None)
        if shown is not None:
            await self._store.backfills.set_progress(record.id, shown)
        return _private(t("backfill.started" if shown is not None else "backfill.started_closed"))

    async def _refusal(self, ctx: Context, ask: BackfillAsk) -> Text | None:
        """Why this start cannot be: the platform's reason, no key of the admin's own, a bad
        option; None when it can."""
        if ask.refusal is not None:
            return ask.refusal
        if await self._store.keys.of(ctx.user) is None:
            return t("backfill.needs_key")
        if ask.limit is not None and not 0 < ask.limit <= MOST_MESSAGES:
            return t("backfill.limit", most=f"{MOST_MESSAGES:,}")
        if ask.since and _day(ask.since) is None:
            return t("backfill.since")
        return None

    async def _already(self, active: BackfillRecord) -> Reply:
        """Start on a channel whose backfill runs shows its progress; on a paused one, goes on."""
        if active.state == "paused" and await self._store.backfills.resume(active.id):
            self._runner.wake()
            resumed = await self._store.backfills.get(active.id) or active
            progress = progress_reply(resumed, resumed.counts).text
            return _private(t("lines", lines=[t("backfill.resumed"), progress]))
        progress = progress_reply(active, active.counts).text
        return _private(t("lines", lines=[t("backfill.running"), progress]))

    async def status(self, ctx: Context) -> Reply:
        """The channel's backfill: its progress, or once it ended the summary with its CSV."""
        record = await self._store.backfills.latest(ctx.chat)
        if record is None:
            return _private(t("backfill.none"))
        if record.active:
            return _private(progress_reply(record, record.counts).text)
        summary = await summary_reply(self._store, record, record.counts, record.state)
        return Reply(summary.text, visibility=Visibility.USER_ONLY, attachment=summary.attachment)

    async def stop(self, ctx: Context) -> Reply:
        """Ends the channel's backfill (what was uploaded stays) and sends its CSV privately;
        when that cannot be, the answer carries it."""
        record = await self._store.backfills.latest(ctx.chat)
        stopped = (
            None
            if record is None or not record.active
            else await self._store.backfills.stop(record.id)
        )
        if stopped is None:
            return _private(t("backfill.not_running"))
        summary = await summary_reply(self._store, stopped, stopped.counts, STOPPED)
        if await self._report(stopped, summary, None) is not None:
            return _private(t("backfill.stopped"))
        return Reply(summary.text, visibility=Visibility.USER_ONLY, attachment=summary.attachment)

    async def _report(self, record: BackfillRecord, reply: Reply, handle: str | None) -> str | None:
        platform = self._platforms.get(record.channel.platform)
        if not isinstance(platform, ChannelHistory):
            return None
        return await platform.report(record.admin, reply, language_of(record.language), handle)


def _day(text: str | None) -> date | None:
    """A YYYY-MM-DD date that is not in the future (UTC), else None."""
    if not text or not _DATE.fullmatch(text.strip()):
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return day if day <= datetime.now(UTC).date() else None
