"""File names made safe: a base name alone, no control characters, at most 200 characters,
every script's letters kept, a default when nothing is left."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.upload.filenames import MAX_CHARS, default_filename, safe_filename


@given(st.text(max_size=600), st.sampled_from([None, "image/png", "video/mp4", "text/plain"]))
def test_any_name_becomes_a_short_plain_base_name(name, content_type):
    """Whatever is sent: no folder separator, no control character, 1 to 200 characters."""
    safe = safe_filename(name, content_type)
    assert 0 < len(safe) <= MAX_CHARS
    assert "/" not in safe
    assert "\\" not in safe
    assert not any(unicodedata.category(c) == "Cc" for c in safe)
    assert safe not in (".", "..")


def test_a_right_to_left_override_is_removed():
    """``gnp.exe`` behind U+202E would read as ``exe.png``: the override goes."""
    assert safe_filename("photo\u202egnp.exe", "image/png") == "photognp.exe"


def test_letters_of_every_script_stay():
    assert safe_filename("照片 фото صورة.jpg", "image/jpeg") == "照片 фото صورة.jpg"


def test_defaults_name_the_type():
    assert default_filename("image/png") == "image.png"
    assert default_filename("video/mp4") == "video.mp4"
    assert default_filename(None) == "file"
