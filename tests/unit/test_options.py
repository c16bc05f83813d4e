"""What one upload is sent with: defaults < caption < per-upload options, and the width only
where it shrinks an image."""

from dataclasses import replace

import pytest

from bot.domain import MediaKind, UploadOptions
from bot.store import Prefs
from bot.upload.options import upload_options
from tests.conftest import media


def with_width(kind: MediaKind, width: int | None, **kwargs):
    item = media(kind=kind, **kwargs)
    return replace(item, file=replace(item.file, width=width))


@pytest.mark.parametrize(
    ("kind", "width", "sent"),
    [
        (MediaKind.IMAGE, 800, 640),
        (MediaKind.IMAGE, 640, None),
        (MediaKind.IMAGE, 320, None),
        (MediaKind.IMAGE, None, 640),
        (MediaKind.VIDEO, 1920, None),
        (MediaKind.VIDEO, None, None),
    ],
)
def test_the_width_is_sent_only_to_shrink_an_image(kind, width, sent):
    """A default width of 640: sent for a wider image or one of unknown width (the host is
    asked, and a refusal answered); never for a narrower image or a video."""
    options = upload_options(with_width(kind, width), Prefs(width=640))
    assert options.width == sent


def test_defaults_caption_and_options_stack_in_that_order():
    """Category and width defaults; the caption's title and description; an /upload option
    wins over both."""
    item = with_width(
        MediaKind.IMAGE,
        4000,
        caption="Title\nA description #tag",
        options=UploadOptions(category_id=9, width=1024),
    )
    options = upload_options(item, Prefs(category_id=2, width=640))
    assert (options.title, options.description, options.tags) == (
        "Title",
        "A description #tag",
        ("tag",),
    )
    assert (options.category_id, options.width) == (9, 1024)
