"""What one upload is sent with: the user's defaults, then the caption, then the options given
with the upload; each field made fit for the host."""

from __future__ import annotations

from dataclasses import replace

from bot.domain import MediaKind, UploadOptions
from bot.payloads import FileRef, IncomingMedia
from bot.store import Prefs
from bot.upload.captions import clean_description, clean_tags, clean_title, options_from_caption


def upload_options(media: IncomingMedia, prefs: Prefs) -> UploadOptions:
    """User defaults < caption < per-upload options; the text fields made clean, the width kept
    only where it shrinks the image. Background work (a backfill) takes none of the user's
    defaults: it makes a faithful copy that does not expire, set by its own options alone."""
    defaults = (
        UploadOptions()
        if media.background
        else UploadOptions(
            expiration=prefs.expiration,
            nsfw=prefs.nsfw,
            album_id=prefs.album_id,
            category_id=prefs.category_id,
            width=prefs.width,
            file_date=prefs.file_date,
        )
    )
    options = media.options.over(options_from_caption(media.caption).over(defaults))
    return replace(
        options,
        title=clean_title(options.title),
        description=clean_description(options.description),
        tags=clean_tags(options.tags),
        width=_fitting_width(options.width, media.file),
    )


def _fitting_width(width: int | None, file: FileRef) -> int | None:
    """A width is sent only to shrink an image: never for a video, nor for an image the
    platform says is no wider. Of an image of unknown width the host is asked, and its
    refusal (code 610, a width larger than the image) answered by sending it as it is."""
    if width is None or file.kind is MediaKind.VIDEO:
        return None
    if file.width is not None and file.width <= width:
        return None
    return width
