"""What the bot answers for a finished job: a public summary, and delete links for the uploader;
in a private chat both in one message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain import Button, ChatRef, EmbedForm, Outcome, Reply, Text, UploadRecord, Visibility
from bot.jobs.embeds import embed_code
from bot.payloads import FileResult
from bot.texts import code, t


def _expiry(when: datetime | None) -> list[Text]:
    return [] if when is None else [t("upload.expires", when=when.strftime("%Y-%m-%d %H:%M"))]


def _has_short(record: UploadRecord) -> bool:
    """A site without short links answers ``url_short`` equal to ``url_viewer``: shown once."""
    return record.url_short is not None and record.url_short != record.url_viewer


def _uploaded(record: UploadRecord, form: EmbedForm = EmbedForm.LINKS) -> list[Text]:
    if record.url_viewer is None:
        done = t("upload.no_link", filename=record.filename)
    elif _has_short(record):
        done = t(
            "upload.done",
            filename=record.filename,
            viewer=record.url_viewer,
            short=record.url_short,
        )
    else:
        done = t("upload.done_one", filename=record.filename, viewer=record.url_viewer)
    snippet = embed_code(record, form)
    embed = [] if snippet is None else [code(snippet)]
    return [done, *embed, *_expiry(record.expires_at)]


def _link_buttons(record: UploadRecord) -> tuple[Button, ...]:
    """The viewer button, and the short link's when the site has short links; none without a
    link to show."""
    if record.url_viewer is None:
        return ()
    viewer = Button(t("button.viewer"), url=record.url_viewer)
    short = record.url_short if _has_short(record) else None
    return (viewer,) if short is None else (viewer, Button(t("button.short"), url=short))


def _item_lines(item: FileResult) -> list[Text]:
    if item.outcome is Outcome.UPLOADED and item.upload is not None:
        note = [] if item.note is None else [item.note]
        return [*_uploaded(item.upload, item.form), *note]
    if item.outcome is Outcome.DUPLICATE:
        note = [] if item.note is None else [item.note]
        return [t("upload.duplicate", filename=item.filename), *note]
    return []


def public_reply(items: Sequence[FileResult]) -> Reply:
    """One answer for the chat: links as text (and buttons for a single file), failures' reasons."""
    if len(items) == 1:
        item = items[0]
        if item.outcome is Outcome.FAILED:
            return Reply(item.reason or t("error.host_rejected"))
        buttons = _link_buttons(item.upload) if item.upload is not None else ()
        return Reply(t("lines", lines=_item_lines(item)), buttons)
    uploaded = sum(item.outcome is not Outcome.FAILED for item in items)
    lines: list[Text] = [t("batch.summary", uploaded=uploaded, total=len(items))]
    for item in items:
        lines += _item_lines(item)
    failed = [item for item in items if item.outcome is Outcome.FAILED]
    if failed:
        lines.append(t("batch.failures"))
        lines += [
            t("batch.failure", filename=i.filename, reason=i.reason or t("error.host_rejected"))
            for i in failed
        ]
    return Reply(t("lines", lines=lines))


def _deletable(items: Sequence[FileResult]) -> list[tuple[UploadRecord, str]]:
    """The uploaded files that have a delete link, with it (the host may give none usable)."""
    uploads = [item.upload for item in items if item.upload is not None]
    return [(r, r.delete_url) for r in uploads if r.delete_url is not None]


def _delete_links(records: Sequence[tuple[UploadRecord, str]]) -> list[Text]:
    return [t("upload.secret", filename=r.filename, delete=delete) for r, delete in records]


def _delete_buttons(records: Sequence[tuple[UploadRecord, str]]) -> tuple[Button, ...]:
    return tuple(
        Button(t("button.delete", filename=r.filename), action=f"del:{r.id}") for r, _ in records
    )


def secret_reply(
    items: Sequence[FileResult], chat: ChatRef, ephemeral: bool, nudge: Text | None = None
) -> Reply | None:
    """Delete links and Delete buttons, seen by the uploader alone, then ``nudge`` (a line for
    the uploader alone); None when nothing uploaded has a delete link."""
    records = _deletable(items)
    if not records:
        return None
    where = Visibility.USER_ONLY if chat.is_private or ephemeral else Visibility.PRIVATE_TO_USER
    text = t("lines", lines=[*_delete_links(records), *_maybe(nudge)])
    return Reply(text, _delete_buttons(records), where, secret=True)


def private_reply(items: Sequence[FileResult], nudge: Text | None = None) -> Reply:
    """In a private chat, one message: the public reply's links and buttons, then the delete
    links and their Delete buttons, then ``nudge``; secret (previews off), as it holds delete
    links."""
    public = public_reply(items)
    records = _deletable(items)
    if not records:
        return public
    text = t("lines", lines=[public.text, *_delete_links(records), *_maybe(nudge)])
    buttons = public.buttons + _delete_buttons(records)
    return Reply(text, buttons, Visibility.USER_ONLY, secret=True)


def _maybe(line: Text | None) -> list[Text]:
    return [] if line is None else [line]


def dm_closed() -> Reply:
    return Reply(t("upload.dm_closed"))
