"""URLs from the host's answer are used only when they are http(s) URLs with a host: the others
are left out with one WARNING naming their fields, and the answer goes out with the rest."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.chevereto import CheveretoClient, FileSource
from bot.chevereto.probe import probe_png
from bot.chevereto.urls import usable_url
from bot.domain import Outcome, Reply, UploadRecord
from bot.jobs.replies import private_reply, public_reply, secret_reply
from bot.payloads import FileResult
from bot.texts import render
from tests.conftest import ALICE, GROUP, KEY, PRIVATE
from tests.support.fakes.chevereto import FakeChevereto

LOGGER = "bot.chevereto.urls"
SCRIPT = "javascript:alert(document.cookie)"
DATA = "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="
CDN = "https://cdn.example.net/images/2026/12/cat.png"


@pytest.fixture
def png(tmp_path: Path) -> FileSource:
    path = tmp_path / "photo.png"
    path.write_bytes(probe_png())
    return FileSource(path, "photo.png")


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


@pytest.mark.parametrize(
    "url",
    [
        "https://img.example/image/AbC",
        "http://127.0.0.1:8080/AbC",
        "HTTPS://IMG.EXAMPLE/AbC",
        CDN,
        "https://img.example/图片/猫.png",
    ],
)
def test_an_http_url_with_a_host_is_usable(url: str) -> None:
    """http and https URLs with a host are used, whatever the host (a CDN is normal)."""
    assert usable_url(url)


@pytest.mark.parametrize(
    "url",
    [
        SCRIPT,
        "JavaScript:alert(1)",
        DATA,
        "ftp://img.example/AbC",
        "//img.example/AbC",
        "/image/AbC",
        "https://",
        "http:///image/AbC",
        "https://img.example/a b",
        "https://img.example/a\nb",
        "https://[::1/AbC",
        "",
    ],
)
def test_anything_else_is_not_usable(url: str) -> None:
    """Other schemes, relative URLs, no host, spaces, control characters, malformed ones."""
    assert not usable_url(url)


async def test_a_script_viewer_is_replaced_by_the_short_link(
    client: CheveretoClient,
    chevereto: FakeChevereto,
    png: FileSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A ``javascript:`` viewer URL is left out: the short link stands in its place, and one
    WARNING names the field, not the value."""
    chevereto.urls_next({"url_viewer": SCRIPT})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        image = await client.upload(KEY, png)
    assert image.url_viewer == f"{chevereto.url}/{image.id_encoded}"
    assert image.url_short is None
    (line,) = warnings(caplog)
    assert "url_viewer" in line
    assert "javascript" not in caplog.text


async def test_a_data_short_link_leaves_the_viewer_alone(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A ``data:`` short URL is left out; the viewer URL stays."""
    chevereto.urls_next({"url_short": DATA})
    image = await client.upload(KEY, png)
    assert image.url_viewer == f"{chevereto.url}/image/{image.id_encoded}"
    assert image.url_short is None


async def test_neither_link_usable_leaves_none(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """With neither the viewer nor the short URL usable, the image still comes back, with no
    link to show."""
    chevereto.urls_next({"url_viewer": SCRIPT, "url_short": DATA})
    image = await client.upload(KEY, png)
    assert (image.url_viewer, image.url_short) == (None, None)
    assert image.id_encoded in chevereto.images


async def test_a_bad_delete_link_is_dropped_and_not_logged(
    client: CheveretoClient,
    chevereto: FakeChevereto,
    png: FileSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A delete link that is not http(s) is None; the warning names ``delete_url`` and never
    holds its value."""
    bad = "javascript:location='https://img.example/image/AbC/delete/0123456789abcdef'"
    chevereto.urls_next({"delete_url": bad})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        image = await client.upload(KEY, png)
    assert image.delete_url is None
    assert image.url_viewer is not None
    (line,) = warnings(caplog)
    assert "delete_url" in line
    assert "0123456789abcdef" not in caplog.text


async def test_several_bad_fields_make_one_warning(
    client: CheveretoClient,
    chevereto: FakeChevereto,
    png: FileSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bad file, display and thumbnail URLs are left out together, with one WARNING naming
    each field."""
    chevereto.urls_next({"url": DATA, "display_url": SCRIPT, "thumb.url": "ftp://x/t.png"})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        image = await client.upload(KEY, png)
    assert (image.url, image.display_url, image.thumb_url) == (None, None, None)
    (line,) = warnings(caplog)
    assert all(name in line for name in ("url", "display_url", "thumb.url"))


async def test_urls_on_another_host_are_kept_as_they_are(
    client: CheveretoClient,
    chevereto: FakeChevereto,
    png: FileSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A CDN's file and thumbnail URLs (another host than CHEVERETO_URL's) are used unchanged,
    without a warning."""
    thumb = CDN.replace("cat.png", "cat.th.png")
    chevereto.urls_next({"url": CDN, "thumb.url": thumb})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        image = await client.upload(KEY, png)
    assert (image.url, image.thumb_url) == (CDN, thumb)
    assert warnings(caplog) == []


def record(
    viewer: str | None = "https://img.example/image/AbC",
    short: str | None = "https://img.example/AbC",
    delete: str | None = "https://img.example/image/AbC/delete/secret",
) -> UploadRecord:
    return UploadRecord(
        id=7,
        user=ALICE,
        filename="cat.png",
        url_viewer=viewer,
        url_short=short,
        delete_url=delete,
        expires_at=None,
        created_at=datetime.now(UTC),
    )


def uploaded(upload: UploadRecord) -> list[FileResult]:
    return [FileResult("cat.png", Outcome.UPLOADED, upload)]


def shown(reply: Reply, language: str = "en") -> str:
    return render(reply.text, language)


def test_no_link_to_show_is_said_and_no_button_made() -> None:
    """An upload without a usable viewer or short link: the answer says the file is on the host
    without a link to show, and has no link button."""
    reply = public_reply(uploaded(record(viewer=None, short=None)))
    assert shown(reply) == "cat.png is on the host, but the host gave no link I can show."
    assert reply.buttons == ()


def test_no_link_to_show_is_said_in_chinese() -> None:
    """The same sentence in Simplified Chinese."""
    reply = public_reply(uploaded(record(viewer=None, short=None)))
    assert shown(reply, "zh") == "cat.png 已上传到图床，但图床没有给出我可以显示的链接。"


def test_without_a_delete_link_the_private_answer_has_none() -> None:
    """In private, an upload without a usable delete link has its links and no delete link
    nor Delete button."""
    reply = private_reply(uploaded(record(delete=None)))
    assert "/delete/" not in shown(reply)
    assert "Delete link" not in shown(reply)
    assert [b.url for b in reply.buttons] == [
        "https://img.example/image/AbC",
        "https://img.example/AbC",
    ]


def test_without_a_delete_link_nothing_secret_is_sent() -> None:
    """In a group, an upload without a usable delete link sends the uploader nothing secret."""
    assert secret_reply(uploaded(record(delete=None)), GROUP, ephemeral=False) is None


def test_the_delete_link_of_another_file_stays() -> None:
    """In an album, the file with a delete link keeps it and its button; the other has none."""
    other = replace(record(), id=8, filename="dog.png", delete_url=None)
    items = [*uploaded(record()), FileResult("dog.png", Outcome.UPLOADED, other)]
    reply = secret_reply(items, PRIVATE, ephemeral=False)
    assert reply is not None
    assert [b.action for b in reply.buttons] == ["del:7"]
