"""What a backfill tells its admin: progress while it runs, why it paused, and at the end a
summary with the CSV."""

from __future__ import annotations

from bot.backfill.table import csv_file
from bot.domain import Attachment, Reply, Text, Visibility
from bot.store import Store
from bot.store.backfills import BackfillRecord, Counts
from bot.texts import t


def _numbers(record: BackfillRecord, counts: Counts) -> Text:
    estimate = record.options.estimate
    return t(
        "backfill.numbers",
        read=counts.messages,
        of=t("backfill.of", estimate=estimate) if estimate else "",
        uploaded=counts.uploaded,
        already=counts.already,
        duplicate=counts.duplicate,
        skipped=counts.skipped,
        failed=counts.failed,
    )


def _state(record: BackfillRecord) -> Text:
    if record.state == "paused" and record.reason:
        return t("backfill.state.paused", reason=t(record.reason))
    return t(f"backfill.state.{record.state}")


def progress_reply(record: BackfillRecord, counts: Counts) -> Reply:
    """Where the backfill is: its state and its numbers."""
    head = t("backfill.progress", channel=record.options.channel_name, state=_state(record))
    return Reply(t("lines", lines=[head, _numbers(record, counts)]), visibility=_PRIVATE)


def paused_reply(record: BackfillRecord, counts: Counts, reason: str) -> Reply:
    """Said once, when it pauses: why, and how it goes on."""
    lines = [t("backfill.paused", channel=record.options.channel_name, reason=t(reason))]
    return Reply(t("lines", lines=[*lines, _numbers(record, counts)]), visibility=_PRIVATE)


async def summary_reply(store: Store, record: BackfillRecord, counts: Counts, ended: str) -> Reply:
    """At the end (``ended``: finished or stopped): the numbers, and the CSV of every
    attachment seen."""
    name = f"backfill-{record.channel.id}-{record.id}"
    filename, data = await csv_file(name, store.backfills.rows(record.id))
    head = t(f"backfill.summary.{ended}", channel=record.options.channel_name)
    text = t("lines", lines=[head, _numbers(record, counts), t("backfill.csv")])
    return Reply(text, visibility=_PRIVATE, attachment=Attachment(filename, data))


_PRIVATE = Visibility.PRIVATE_TO_USER
