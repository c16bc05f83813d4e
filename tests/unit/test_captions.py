"""A caption becomes the title; its hashtags become tags."""

from hypothesis import given
from hypothesis import strategies as st

from bot.upload.captions import DESCRIPTION_MAX, TITLE_MAX, options_from_caption


def test_caption_gives_title_and_tags():
    """Hashtags leave the title and become tags, in order, without duplicates."""
    options = options_from_caption("Sunset at the beach #travel #sea #travel")
    assert options.title == "Sunset at the beach"
    assert options.tags == ("travel", "sea")


def test_chinese_hashtags_are_tags():
    """Hashtags in Chinese are tags too."""
    options = options_from_caption("海边日落 #旅行 #海")
    assert options.title == "海边日落"
    assert options.tags == ("旅行", "海")


def test_caption_of_only_hashtags_has_no_title():
    """A caption made only of hashtags sets tags and leaves the title to the host."""
    options = options_from_caption("#cat #cute")
    assert options.title is None
    assert options.tags == ("cat", "cute")


def test_no_caption_sets_nothing():
    """No caption, no title and no tags."""
    assert options_from_caption(None).title is None
    assert options_from_caption("").tags == ()


def test_huge_caption_is_cut():
    """A 10,000-character caption gives a title of at most 100 characters."""
    title = options_from_caption("x" * 10_000).title
    assert title is not None
    assert len(title) == TITLE_MAX


def test_control_characters_leave_title_and_rtl_stays():
    """Control characters become spaces; right-to-left text is kept as it is."""
    options = options_from_caption("a\x00b\x07c\n\nשלום\u200f #תג")
    assert options.title == "a b c"
    assert options.description == "שלום\u200f #תג"
    assert options.tags == ("תג",)


def test_the_first_line_is_the_title_and_the_rest_the_description():
    """Two lines and more: the first is the title (its hashtags out), the rest the description
    with its line breaks and hashtags kept; every hashtag is a tag."""
    options = options_from_caption("Sunset #beach\nShot at dusk\x07 on film.\n\n\n\n#analog ok")
    assert options.title == "Sunset"
    assert options.description == "Shot at dusk on film.\n\n#analog ok"
    assert options.tags == ("beach", "analog")


def test_a_huge_description_is_cut_at_5000():
    """Lines after the first give a description of at most 5,000 characters."""
    description = options_from_caption("t\n" + "y" * 9_000).description
    assert description is not None
    assert len(description) == DESCRIPTION_MAX


@given(st.text(max_size=3000))
def test_any_caption_gives_a_clean_bounded_title(caption):
    """For any text: the title is short, has no control characters, and tags hold no '#'."""
    options = options_from_caption(caption)
    if options.title is not None:
        assert 0 < len(options.title) <= TITLE_MAX
        assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in options.title)
    assert all("#" not in tag and tag for tag in options.tags)
    if options.description is not None:
        assert 0 < len(options.description) <= DESCRIPTION_MAX
        assert not any(
            c != "\n" and (ord(c) < 32 or 127 <= ord(c) < 160) for c in options.description
        )
