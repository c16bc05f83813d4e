"""Both languages say every sentence, with the same placeholders."""

import string

import pytest

from bot import errors
from bot.domain import Text
from bot.texts import CATALOGS, error_text, language_of, render, t


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys():
    """Every key of the English catalog is in the Chinese one, and no other."""
    assert set(CATALOGS["en"]) == set(CATALOGS["zh"])


@pytest.mark.parametrize("key", sorted(CATALOGS["en"]))
def test_placeholders_match(key):
    """A sentence has the same placeholders in both languages."""
    assert _fields(CATALOGS["en"][key]) == _fields(CATALOGS["zh"][key])


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh", "zh"),
        ("zh-hans", "zh"),
        ("zh-CN", "zh"),
        ("zh_Hans_CN", "zh"),
        ("zh-SG", "zh"),
        ("zh-TW", "en"),
        ("zh-hant", "en"),
        ("en", "en"),
        ("en-US", "en"),
        ("ru", "en"),
        (None, "en"),
        ("", "en"),
    ],
)
def test_language_is_chosen_by_code(code, expected):
    """Simplified Chinese codes choose Chinese; everything else English."""
    assert language_of(code) == expected


ALL_ERRORS = [
    errors.NotLinked(),
    errors.UnsupportedMedia(),
    errors.MediaTooLarge(20),
    errors.InvalidExpiration("x"),
    errors.InvalidAlbum("x"),
    errors.InvalidArgument("/x"),
    errors.NotAllowed(),
    errors.RateLimited(),
    errors.KeyRejected(),
    errors.UploadsDisabled(),
    errors.Duplicate(),
    errors.FileTooLargeForHost(10),
    errors.FileTooLargeForHost(None),
    errors.FileRefused(),
    errors.HostFull(),
    errors.HostRejected(0, "Warning: PDO raw"),
    errors.HostUnavailable(),
    errors.HostNotAnswering(),
    errors.HostTooSlow(after_body=True),
    errors.NotTheApi(),
    errors.Redirected(),
    errors.HostFlooding(),
    errors.ProxyRefusedSize(),
    errors.SourceUnavailable(),
    errors.SourceTooSlow(),
    errors.MediaUnavailable(),
]


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_is_one_translated_sentence(error):
    """Each typed error becomes one line in both languages, with no raw host text."""
    text = error_text(error)
    assert text.key != "error.unexpected"
    for language in ("en", "zh"):
        line = render(text, language)
        assert "\n" not in line
        assert "PDO" not in line


def test_unexpected_error_gives_a_reference_also_logged(caplog):
    """An unexpected error is logged with a reference id that the user is told."""
    text = error_text(ZeroDivisionError("boom"))
    assert text.key == "error.unexpected"
    ref = str(text.params["ref"])
    assert ref in render(text, "zh")
    assert any(ref in record.getMessage() for record in caplog.records)


def test_nested_texts_survive_json():
    """A text with nested texts and lists renders the same after a round trip through JSON."""
    text = t("lines", lines=[t("batch.summary", uploaded=1, total=2), t("error.not_linked")])
    again = Text.from_json(text.to_json())
    assert render(again, "zh") == render(text, "zh")
    assert "1/2" in render(again, "zh")
