"""CheveretoClient against FakeChevereto over real HTTP: fields, key, sources, errors,
formats, retries, redirects and the delete link."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import struct
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.chevereto import Base64Source, CheveretoClient, FileSource
from bot.domain import UploadOptions
from bot.errors import (
    Duplicate,
    FileRefused,
    FileTooLargeForHost,
    HostError,
    HostFlooding,
    HostFull,
    HostNotAnswering,
    HostRejected,
    HostUnavailable,
    InvalidExpiration,
    KeyRejected,
    NotTheApi,
    Redirected,
    UploadsDisabled,
)
from tests.conftest import ADMIN_KEY, KEY
from tests.support.fakes.chevereto import PHP_WARNING, FakeChevereto
from tests.support.fault_harness import PortSwitch


def port_of(chevereto: FakeChevereto) -> int:
    return int(chevereto.url.rsplit(":", 1)[1])


UNKNOWN_KEY = "chv_13_" + "x" * 128
MIB = 1024 * 1024
SQL_ERROR = "SQLSTATE[22007]: Invalid datetime format: 1366 Incorrect integer value: 'x'"


def png_bytes(width: int = 100, size: int = 200) -> bytes:
    """A PNG header of the given width followed by random bytes, unique every time."""
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", width, 50)
    return head + os.urandom(max(size - len(head), 16))


def md5_of(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def file_source(tmp_path: Path, data: bytes, name: str = "photo.png") -> FileSource:
    path = tmp_path / name
    path.write_bytes(data)
    return FileSource(path, name)


@pytest.fixture
def png(tmp_path: Path) -> FileSource:
    return file_source(tmp_path, png_bytes())


# --- fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        (UploadOptions(title="Sunset"), {"title": "Sunset"}),
        (UploadOptions(description="Over the sea"), {"description": "Over the sea"}),
        (UploadOptions(tags=("sea", " sun ", "")), {"tags": "sea,sun"}),
        (UploadOptions(album_id="4c"), {"album_id": "4c"}),
        (UploadOptions(category_id=3), {"category_id": "3"}),
        (UploadOptions(width=50), {"width": "50"}),
        (UploadOptions(expiration="1h"), {"expiration": "PT1H"}),
        (UploadOptions(nsfw=True), {"nsfw": "1"}),
    ],
)
async def test_each_field_reaches_the_host(
    client: CheveretoClient,
    chevereto: FakeChevereto,
    png: FileSource,
    options: UploadOptions,
    sent: dict[str, str],
) -> None:
    """Each option arrives as the one form field the API expects, beside the format."""
    await client.upload(KEY, png, options)
    assert chevereto.requests[-1].form == {**sent, "format": "json"}


async def test_fields_are_applied_by_the_host(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """The host applies the fields: title, tags, category, width and nsfw land on the image."""
    options = UploadOptions(title="Sunset", tags=("sea", "sun"), category_id=3, width=50, nsfw=True)
    image = await client.upload(KEY, png, options)
    applied = chevereto.images[image.id_encoded].options
    assert image.title == "Sunset"
    assert (applied["tags"], applied["category_id"], applied["width"]) == (["sea", "sun"], 3, 50)
    assert applied["nsfw"] == 1


async def test_falsy_fields_are_not_sent(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """Empty, zero and false options send nothing at all, since the host drops them."""
    options = UploadOptions(
        title="", description="", tags=(" ",), album_id="", category_id=0, width=0
    )
    await client.upload(KEY, png, UploadOptions(expiration="off", nsfw=False).over(options))
    assert chevereto.requests[-1].form == {"format": "json"}


async def test_long_title_is_cut_by_the_host(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A long title is sent whole and the host keeps its first 100 characters."""
    image = await client.upload(KEY, png, UploadOptions(title="t" * 150))
    assert len(chevereto.requests[-1].form["title"]) == 150
    assert image.title == "t" * 100


async def test_own_album_is_applied(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """An album the key's user owns is applied to the image."""
    chevereto.add_album("alice", "4c")
    image = await client.upload(KEY, png, UploadOptions(album_id="4c"))
    assert chevereto.images[image.id_encoded].options["album_id"] == "4c"


async def test_foreign_album_is_silently_dropped(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """An album of another user is sent, and the host silently drops it without an error."""
    chevereto.add_album("bob", "7x")
    image = await client.upload(KEY, png, UploadOptions(album_id="7x"))
    assert chevereto.requests[-1].form["album_id"] == "7x"
    assert chevereto.images[image.id_encoded].options["album_id"] is None


async def test_invalid_expiration_is_refused_before_sending(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """Garbage the host would turn into five minutes raises InvalidExpiration; nothing is sent."""
    with pytest.raises(InvalidExpiration):
        await client.upload(KEY, png, UploadOptions(expiration="soon"))
    assert chevereto.requests == []


# --- the key -----------------------------------------------------------------------------


async def test_key_travels_only_in_the_header(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """The key is in X-API-Key and in no URL, query or form field."""
    image = await client.upload(KEY, png, UploadOptions(title="t"))
    await client.delete(image.delete_url)
    upload, *gets = chevereto.requests
    assert upload.headers["x-api-key"] == KEY
    assert "key" not in upload.form
    assert KEY not in "".join(upload.form.values())
    for request in chevereto.requests:
        assert not request.key_in_url
        assert KEY not in request.path + request.query
    assert all("x-api-key" not in get.headers for get in gets)


async def test_upload_returns_the_hosts_image(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """The JSON answer becomes a HostImage with the host's URLs, md5, size and type."""
    image = await client.upload(KEY, png)
    stored = chevereto.images[image.id_encoded]
    assert image.url_viewer == f"{chevereto.url}/image/{stored.id}"
    assert image.url_short == f"{chevereto.url}/{stored.id}"
    assert image.delete_url.endswith(f"/delete/{stored.delete_hash}")
    assert image.url == image.display_url == f"{chevereto.url}/images/{stored.id}.png"
    assert (image.md5, image.size) == (md5_of(png.path.read_bytes()), 200)
    assert (image.mime, image.type, image.title) == ("image/png", "image", "photo")


# --- sources -----------------------------------------------------------------------------


async def test_large_file_is_streamed_from_disk(
    client: CheveretoClient, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """A 64 MB file uploads whole while memory peaks far below its size."""
    chevereto.max_size_mb = 100
    path, md5 = tmp_path / "big.png", hashlib.md5(usedforsecurity=False)
    with path.open("wb") as out:
        for chunk in [png_bytes(size=MIB), *(os.urandom(MIB) for _ in range(63))]:
            out.write(chunk)
            md5.update(chunk)
    tracemalloc.start()
    try:
        image = await client.upload(KEY, FileSource(path, "big.png"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (image.size, image.md5) == (64 * MIB, md5.hexdigest())
    assert peak < 8 * MIB


async def test_progress_is_reported_up_to_the_total(
    client: CheveretoClient, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """progress hears growing byte counts per chunk, ending at the Content-Length sent."""
    calls: list[tuple[int, int]] = []

    async def progress(sent: int, total: int) -> None:
        calls.append((sent, total))

    await client.upload(KEY, file_source(tmp_path, png_bytes(size=MIB)), progress=progress)
    total = int(chevereto.requests[-1].headers["content-length"])
    assert calls[-1] == (total, total)
    assert [sent for sent, _ in calls] == sorted({sent for sent, _ in calls})
    assert len(calls) >= 4  # head, four 256 KiB chunks, tail


async def test_base64_source_uploads(client: CheveretoClient, chevereto: FakeChevereto) -> None:
    """Bare base64 data is sent as the source field and stored as those bytes."""
    data = png_bytes()
    image = await client.upload(KEY, Base64Source(base64.b64encode(data).decode()))
    assert chevereto.images[image.id_encoded].md5 == md5_of(data)


# --- the error table ---------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", UNKNOWN_KEY])
async def test_missing_or_unknown_key_is_key_rejected(
    client: CheveretoClient, png: FileSource, key: str
) -> None:
    """Code 100 (no key, invalid key) raises KeyRejected."""
    with pytest.raises(KeyRejected):
        await client.upload(key, png)


async def test_invalid_api_version_is_host_rejected(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """Code 110 (a client bug) raises HostRejected with the code kept for the logs."""
    chevereto.error_next(110, "Invalid API version.")
    with pytest.raises(HostRejected) as caught:
        await client.upload(KEY, png)
    assert caught.value.code == 110


async def test_data_uri_base64_is_host_rejected(client: CheveretoClient) -> None:
    """Code 120: base64 with a data: prefix raises HostRejected."""
    data = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    with pytest.raises(HostRejected) as caught:
        await client.upload(KEY, Base64Source(data))
    assert caught.value.code == 120


async def test_empty_source_is_host_rejected(client: CheveretoClient) -> None:
    """Code 130 "Empty upload source" raises HostRejected."""
    with pytest.raises(HostRejected) as caught:
        await client.upload(KEY, Base64Source(""))
    assert caught.value.code == 130


async def test_flooding_is_the_flood_limit(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """Code 130 "Flooding detected" is the site's flood limit: HostFlooding (a HostUnavailable,
    which the job retries later), after one request."""
    chevereto.error_next(130, "Flooding detected. Please try again later.")
    with pytest.raises(HostFlooding):
        await client.upload(KEY, png)
    assert len(chevereto.requests) == 1


async def test_api_disabled_is_uploads_disabled(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """Code 401 "Request denied" raises UploadsDisabled."""
    chevereto.api_enabled = False
    with pytest.raises(UploadsDisabled):
        await client.upload(KEY, png)


async def test_second_upload_of_a_file_is_duplicate(
    client: CheveretoClient, png: FileSource
) -> None:
    """Code 101 "Duplicated upload" raises Duplicate for a user key."""
    await client.upload(KEY, png)
    with pytest.raises(Duplicate):
        await client.upload(KEY, png)


async def test_admin_key_never_gets_duplicate(client: CheveretoClient, png: FileSource) -> None:
    """An admin key uploads the same file twice and gets two images."""
    first = await client.upload(ADMIN_KEY, png)
    second = await client.upload(ADMIN_KEY, png)
    assert first.id_encoded != second.id_encoded


@pytest.mark.parametrize("setting", ["storage_full", "no_storage"])
async def test_no_storage_is_host_full(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource, setting: str
) -> None:
    """Codes 104 and 900 raise HostFull."""
    setattr(chevereto, setting, True)
    with pytest.raises(HostFull):
        await client.upload(KEY, png)


async def test_file_too_big_carries_the_hosts_limit(
    client: CheveretoClient, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """ "File too big - max N MB" raises FileTooLargeForHost with N parsed."""
    chevereto.max_size_mb = 1
    with pytest.raises(FileTooLargeForHost) as caught:
        await client.upload(KEY, file_source(tmp_path, png_bytes(size=2 * MIB)))
    assert caught.value.limit_mb == 1


REFUSED_FILES: dict[str, tuple[dict[str, object], bytes, UploadOptions]] = {
    "invalid-image": ({}, b"just some text, not an image", UploadOptions()),  # 400
    "ffprobe": ({"ffmpeg": False}, b"\x00\x00\x00\x18ftypmp42" + bytes(64), UploadOptions()),
    "disabled-format": ({"disabled_extensions": {"gif"}}, b"GIF89a" + bytes(64), UploadOptions()),
    "width": ({}, png_bytes(width=100), UploadOptions(width=500)),  # 610
}


@pytest.mark.parametrize("case", REFUSED_FILES)
async def test_refused_file_is_file_refused(
    client: CheveretoClient, chevereto: FakeChevereto, tmp_path: Path, case: str
) -> None:
    """Invalid image (400), FFprobe (600), disabled format (614) and width (610): FileRefused."""
    setting, data, options = REFUSED_FILES[case]
    for name, value in setting.items():
        setattr(chevereto, name, value)
    with pytest.raises(FileRefused):
        await client.upload(KEY, file_source(tmp_path, data, "file.bin"), options)


async def test_php_error_is_host_rejected_without_its_text(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """Code 0 with raw PHP text raises HostRejected whose message never shows that text."""
    chevereto.php_error_next()
    with pytest.raises(HostRejected) as caught:
        await client.upload(KEY, png)
    assert (caught.value.code, caught.value.detail) == (0, PHP_WARNING)
    assert "Warning" not in str(caught.value)


async def test_database_error_is_host_rejected_without_its_text(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A string code (an SQLSTATE) raises HostRejected whose message never shows the SQL."""
    chevereto.error_next("22007", SQL_ERROR)
    with pytest.raises(HostRejected) as caught:
        await client.upload(KEY, png)
    assert caught.value.code == "22007"
    assert "SQLSTATE" not in str(caught.value)
    assert "Incorrect" not in str(caught.value)


async def test_fake_answers_a_database_error_for_a_non_numeric_category(
    chevereto: FakeChevereto,
) -> None:
    """The fake, like the site, answers a string code for a category_id that is no number."""
    files = {"source": ("a.png", png_bytes(), "image/png")}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            chevereto.url + "/api/1/upload",
            headers={"X-API-Key": KEY},
            data={"category_id": "abc"},
            files=files,
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "22007"


async def test_fake_prefers_the_header_key_to_the_key_field(chevereto: FakeChevereto) -> None:
    """The fake, like the site, takes the X-API-Key header over a key field."""
    files = {"source": ("a.png", png_bytes(), "image/png")}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            chevereto.url + "/api/1/upload",
            headers={"X-API-Key": KEY},
            data={"key": UNKNOWN_KEY},
            files=files,
        )
    assert response.json()["status_code"] == 200


# --- retries and redirects ---------------------------------------------------------------


async def test_a_503_page_is_not_the_api_at_once(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A 503 page raises NotTheApi after one request: the job retries it, telling the user,
    rather than sending the file again while the user waits in silence."""
    chevereto.fail_next(503, times=3)
    with pytest.raises(NotTheApi):
        await client.upload(KEY, png)
    assert len(chevereto.requests) == 1


async def test_html_page_is_not_the_api(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """An HTML 500 page instead of JSON raises NotTheApi after one request."""
    chevereto.answer_html_next(times=3)
    with pytest.raises(NotTheApi):
        await client.upload(KEY, png)
    assert len(chevereto.requests) == 1


async def test_hang_past_the_timeout_is_not_answering(
    chevereto: FakeChevereto, png: FileSource
) -> None:
    """A host that does not answer within the timeout raises HostNotAnswering, not tried again
    within the call (a hung try already cost the whole timeout)."""
    chevereto.hang_next(30, times=2)
    async with CheveretoClient(chevereto.url, timeout=0.2, tries=2, backoff=0.01) as client:
        with pytest.raises(HostNotAnswering):
            await client.upload(KEY, png)
    assert len(chevereto.requests) == 1


async def test_reset_connection_is_not_answering(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A connection dropped without an answer raises HostNotAnswering, not tried again at once:
    the host may have taken the file."""
    chevereto.close_next(times=3)
    with pytest.raises(HostNotAnswering):
        await client.upload(KEY, png)
    assert len(chevereto.requests) == 1


async def test_a_refused_connection_is_tried_again_at_once(
    chevereto: FakeChevereto, png: FileSource
) -> None:
    """A port that refuses the first try and opens before the next: one upload, in one call."""
    switch = PortSwitch(port_of(chevereto))
    await switch.up()
    await switch.down()

    async def open_soon() -> None:
        await asyncio.sleep(0.1)
        await switch.up()

    async with CheveretoClient(switch.url, tries=3, backoff=0.5) as client:
        opening = asyncio.create_task(open_soon())
        image = await client.upload(KEY, png)
        await opening
    await switch.down()
    assert list(chevereto.images) == [image.id_encoded]
    assert len(chevereto.requests) == 1


async def test_the_answer_may_take_longer_for_a_bigger_file(
    chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """The wait for the answer grows with the file's size: a host that takes 1 s to answer is
    waited for with a 4 MB file (4.3 s, a margin a loaded machine keeps), and given up on with
    a small one (0.3 s)."""
    chevereto.delay = 1.0
    big, small = png_bytes(size=4 * MIB), png_bytes()
    async with CheveretoClient(chevereto.url, timeout=0.3, timeout_per_mb=1.0) as client:
        assert client.upload_timeout(4 * MIB).read == pytest.approx(4.3)
        await client.upload(KEY, file_source(tmp_path, big, "big.png"))
        with pytest.raises(HostUnavailable):
            await client.upload(KEY, file_source(tmp_path, small, "small.png"))
    assert len(chevereto.images) == 1


@pytest.mark.slow
async def test_a_hanging_host_is_given_up_in_seconds_by_default(
    chevereto: FakeChevereto, png: FileSource
) -> None:
    """With the default timeouts, a host that hangs on a small file costs about 10 s, not
    minutes: the job's three attempts stay within the 60 s a user waits at most."""
    chevereto.hang_next(120)
    started = time.monotonic()
    async with CheveretoClient(chevereto.url) as client:
        with pytest.raises(HostUnavailable):
            await client.upload(KEY, png)
    waited = time.monotonic() - started
    print(f"a hanging host was given up after {waited:.1f} s")
    assert 9 < waited < 12


async def test_host_answer_is_not_retried(
    client: CheveretoClient, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """A 400 error is the host's decision: one request, no retry."""
    with pytest.raises(FileRefused):
        await client.upload(KEY, file_source(tmp_path, b"not an image"))
    assert len(chevereto.requests) == 1


async def test_redirect_is_not_the_api_and_not_followed(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A 301 raises Redirected (not the API) at once: no GET follows and the file is not
    re-sent."""
    chevereto.redirect_next()
    with pytest.raises(Redirected):
        await client.upload(KEY, png)
    assert [(r.method, r.path) for r in chevereto.requests] == [("POST", "/api/1/upload")]


async def test_base_url_with_trailing_slash_posts_to_the_exact_path(
    chevereto: FakeChevereto, png: FileSource
) -> None:
    """A base URL ending in a slash still posts to /api/1/upload without query."""
    async with CheveretoClient(chevereto.url + "/", backoff=0.01) as client:
        await client.upload(KEY, png)
    assert [(r.path, r.query) for r in chevereto.requests] == [("/api/1/upload", "")]


@pytest.mark.parametrize("suffix", ["/", "?format=json"])
async def test_fake_redirects_a_wrong_upload_url(chevereto: FakeChevereto, suffix: str) -> None:
    """The fake, like the site, answers 301 to a trailing slash or a query, even for POST."""
    async with httpx.AsyncClient() as http:
        response = await http.post(chevereto.url + "/api/1/upload" + suffix, data={"a": "1"})
    assert response.status_code == 301
    assert response.headers["location"] == chevereto.url + "/api/1/upload"


# --- delete, moderation, expiration ------------------------------------------------------


async def test_delete_removes_the_image(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """delete() returns True once the image is gone and its viewer page 404s."""
    image = await client.upload(KEY, png)
    assert await client.delete(image.delete_url) is True
    assert chevereto.deleted == {image.id_encoded}
    async with httpx.AsyncClient() as http:
        assert (await http.get(image.url_viewer)).status_code == 404


async def test_delete_with_a_wrong_hash_returns_false(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A delete link with a wrong hash returns False and the image stays."""
    image = await client.upload(KEY, png)
    wrong = image.delete_url.rsplit("/", 1)[0] + "/" + "0" * 48
    assert await client.delete(wrong) is False
    assert image.id_encoded in chevereto.images


async def test_delete_host_down_is_not_the_api(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A delete link answered by a 5xx page on every try raises NotTheApi."""
    image = await client.upload(KEY, png)
    chevereto.fail_next(502, times=3)
    with pytest.raises(NotTheApi):
        await client.delete(image.delete_url)


async def test_image_awaiting_moderation_parses_without_urls(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """An image awaiting moderation has no url nor display_url, and still parses."""
    chevereto.moderation = True
    image = await client.upload(KEY, png)
    assert (image.url, image.display_url) == (None, None)
    assert image.url_viewer == f"{chevereto.url}/image/{image.id_encoded}"


@pytest.mark.parametrize(("asked", "applied"), [("1h", 3600), ("PT1M", 300), ("P2Y", 365 * 86400)])
async def test_applied_expiration_is_an_aware_datetime(
    client: CheveretoClient, png: FileSource, asked: str, applied: int
) -> None:
    """The expiration the host applied (clamped to 5 min ... 365 days) comes back in UTC."""
    image = await client.upload(KEY, png, UploadOptions(expiration=asked))
    expected = datetime.now(UTC) + timedelta(seconds=applied)
    assert image.expiration_date_gmt is not None
    assert image.expiration_date_gmt.tzinfo is not None
    assert abs(image.expiration_date_gmt - expected) < timedelta(seconds=10)


async def test_no_expiration_where_the_site_has_none(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A site without expirable uploads answers a null expiration: None."""
    chevereto.expirable = False
    image = await client.upload(KEY, png, UploadOptions(expiration="1h"))
    assert image.expiration_date_gmt is None


async def test_key_never_appears_in_logs_or_errors(
    client: CheveretoClient,
    chevereto: FakeChevereto,
    png: FileSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retried and refused uploads log and raise without ever showing the key, httpx's own
    DEBUG lines included."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    chevereto.fail_next(503, times=3)
    errors: list[BaseException] = []
    for key in (KEY, UNKNOWN_KEY):
        with pytest.raises(HostError) as caught:
            await client.upload(key, png)
        errors += [caught.value, *filter(None, [caught.value.__cause__])]
    assert caplog.records
    for text in [caplog.text, *map(repr, errors), *map(str, errors)]:
        assert KEY not in text
        assert UNKNOWN_KEY not in text
