"""The forms an answer may carry besides the links (``/format``): the direct file link, or
one of the "full linked" embed codes of Chevereto's own uploader, ready to paste."""

from __future__ import annotations

import html

from bot.domain import EmbedForm, UploadRecord


def _markdown_text(text: str) -> str:
    """Brackets and backslashes escaped: a title cannot close the link early."""
    return "".join("\\" + c if c in "\\[]" else c for c in text)


def embed_code(record: UploadRecord, form: EmbedForm) -> str | None:
    """The code for ``record`` in ``form``; None for plain links, or while the host keeps the
    file link back (an image awaiting moderation has no ``image.url``), or for a linked form
    when the host gave no viewer link the bot can use."""
    url, viewer = record.url, record.url_viewer
    if form is EmbedForm.LINKS or url is None:
        return None
    title = record.title or record.filename
    if form is EmbedForm.DIRECT:
        return url
    if viewer is None:
        return None
    if form is EmbedForm.MARKDOWN:
        return f"[![{_markdown_text(title)}]({url})]({viewer})"
    if form is EmbedForm.BBCODE:
        return f"[url={viewer}][img]{url}[/img][/url]"
    return (
        f'<a href="{html.escape(viewer)}"><img src="{html.escape(url)}" '
        f'alt="{html.escape(title)}"></a>'
    )
