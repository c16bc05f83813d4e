"""Host failures told apart by the client: not answering, a web page (or an answer too large to
be the API) instead of the API, a proxy refusing the size, the site's flood limit; each with its
own sentence, retry note and metrics label."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.chevereto import CheveretoClient, FileSource
from bot.chevereto.probe import probe_png
from bot.errors import (
    FileTooLargeForHost,
    HostError,
    HostFlooding,
    HostNotAnswering,
    HostUnavailable,
    NotTheApi,
    ProxyRefusedSize,
    Redirected,
)
from bot.jobs.status import retry_note
from bot.ops.monitor import host_error_kind
from bot.texts import error_text, render
from tests.conftest import KEY
from tests.support.fakes.chevereto import PAUSE_S, PHP_WARNING, FakeChevereto
from tests.support.waiting import eventually

MB = 1024 * 1024
LOGGER = "bot.chevereto.responses"
CUT_WITHIN_S = PAUSE_S - 2
"""A client that stopped reading has closed the connection by then; one still reading would
see the fake's pause end first."""


@pytest.fixture
def png(tmp_path: Path) -> FileSource:
    path = tmp_path / "photo.png"
    path.write_bytes(probe_png())
    return FileSource(path, "photo.png")


async def test_a_proxy_413_page_is_the_proxy_refusing_the_size(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """An HTML 413 (nginx's client_max_body_size) raises ProxyRefusedSize after one request."""
    chevereto.proxy_413_next(times=3)
    with pytest.raises(ProxyRefusedSize):
        await client.upload(KEY, png)
    assert len(chevereto.upload_requests) == 1


async def test_a_proxy_413_is_not_a_passing_failure(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """The proxy's 413 is a size refusal the job does not retry: not a HostUnavailable."""
    chevereto.proxy_413_next()
    with pytest.raises(HostError) as caught:
        await client.upload(KEY, png)
    assert not isinstance(caught.value, HostUnavailable)


async def test_a_413_with_chevereto_json_is_the_hosts_own_limit(
    client: CheveretoClient, png: FileSource, chevereto: FakeChevereto
) -> None:
    """A 413 carrying Chevereto's JSON error is read as the host's answer: its limit, not the
    proxy's."""
    chevereto.error_next(400, "File too big - max 2 MB", status=413)
    with pytest.raises(FileTooLargeForHost) as caught:
        await client.upload(KEY, png)
    assert not isinstance(caught.value, ProxyRefusedSize)
    assert caught.value.limit_mb == 2


async def test_a_429_is_the_flood_limit(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A 429 (a rate limit in front of the site) raises HostFlooding, after one request."""
    chevereto.fail_next(429)
    with pytest.raises(HostFlooding):
        await client.upload(KEY, png)
    assert len(chevereto.upload_requests) == 1


async def test_an_empty_source_130_is_not_the_flood_limit(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """Code 130 "Empty upload source" is a client bug, not the flood limit: not retried."""
    chevereto.error_next(130, "Empty upload source")
    with pytest.raises(HostError) as caught:
        await client.upload(KEY, png)
    assert not isinstance(caught.value, HostUnavailable)


async def test_a_json_answer_under_a_5xx_is_not_the_api(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A 5xx is never the API's answer, even with Chevereto-shaped JSON: NotTheApi."""
    chevereto.error_next(0, PHP_WARNING, status=500)
    with pytest.raises(NotTheApi):
        await client.upload(KEY, png)


async def test_a_page_is_logged_with_its_address_and_status_and_no_key(
    client: CheveretoClient,
    chevereto: FakeChevereto,
    png: FileSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The WARNING for a page says which address answered and the status, never the key."""
    chevereto.answer_html_next()
    with caplog.at_level(logging.WARNING, logger=LOGGER), pytest.raises(NotTheApi):
        await client.upload(KEY, png)
    (line,) = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert f"{chevereto.url}/api/1/upload answered HTTP 500 with an HTML page" in line
    assert KEY not in caplog.text


async def upload_cut_short(chevereto: FakeChevereto, size: int) -> None:
    """The one upload's streamed answer was cut by the client before all ``size`` bytes."""
    (request,) = chevereto.upload_requests
    await eventually(lambda: request.answer_cut, within=CUT_WITHIN_S)
    assert request.answer_sent < size


async def test_an_answer_over_the_limit_is_cut_unread(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A 5 MB answer that declares its length is not the API: the client reads none of it and
    closes the connection before its end."""
    chevereto.oversized_answer_next(5 * MB)
    with pytest.raises(NotTheApi):
        await client.upload(KEY, png)
    await upload_cut_short(chevereto, 5 * MB)


async def test_a_chunked_answer_is_cut_at_the_limit(
    chevereto: FakeChevereto, png: FileSource
) -> None:
    """A 5 MB answer without a Content-Length is read up to MAX_HOST_ANSWER_KB (here 64 KB)
    and no further: the connection is closed before its end, and it is not the API."""
    chevereto.oversized_answer_next(5 * MB, declared=False, pause_after=MB)
    async with CheveretoClient(chevereto.url, max_answer_kb=64) as client:
        with pytest.raises(NotTheApi):
            await client.upload(KEY, png)
    await upload_cut_short(chevereto, 5 * MB)


async def test_an_answer_within_a_higher_limit_is_read_whole(
    chevereto: FakeChevereto, png: FileSource
) -> None:
    """The same 5 MB answer with MAX_HOST_ANSWER_KB above it is read to its end (and, being
    JSON without an image, refused as a bad answer rather than as not the API)."""
    chevereto.oversized_answer_next(5 * MB, pause_after=6 * MB)
    async with CheveretoClient(chevereto.url, max_answer_kb=6 * 1024) as client:
        with pytest.raises(HostError) as caught:
            await client.upload(KEY, png)
    assert not isinstance(caught.value, NotTheApi)
    (request,) = chevereto.upload_requests
    assert (request.answer_sent, request.answer_cut) == (5 * MB, False)


async def test_the_limit_applies_to_a_real_answer(
    chevereto: FakeChevereto, png: FileSource
) -> None:
    """A success of a little over 1 KB, with MAX_HOST_ANSWER_KB at 1, is not the API."""
    async with CheveretoClient(chevereto.url, max_answer_kb=1) as client:
        with pytest.raises(NotTheApi):
            await client.upload(KEY, png)


async def test_the_delete_call_reads_no_body(
    client: CheveretoClient, chevereto: FakeChevereto, png: FileSource
) -> None:
    """A 5 MB answer to the delete link's GET is not read: its connection is closed first."""
    image = await client.upload(KEY, png)
    assert image.delete_url is not None
    chevereto.oversized_answer_next(5 * MB)
    assert await client.delete(image.delete_url) is False
    delete = next(r for r in chevereto.requests if "/delete/" in r.path)
    await eventually(lambda: delete.answer_cut, within=CUT_WITHIN_S)


def test_a_limit_below_one_kb_is_refused(chevereto: FakeChevereto) -> None:
    """The client refuses a MAX_HOST_ANSWER_KB under 1."""
    with pytest.raises(ValueError, match="max_answer_kb"):
        CheveretoClient(chevereto.url, max_answer_kb=0)


KINDS: list[tuple[HostError, str, str, str | None]] = [
    (
        HostNotAnswering("timeout"),
        "unavailable",
        "The host cannot be reached right now. Try again later.",
        "The host is not answering; trying again in 5 s (2 of 3).",
    ),
    (
        NotTheApi("HTML"),
        "page",
        "The host answered with a web page instead of its API: the site may be under "
        "maintenance, or the bot's address for it is wrong. Try again later.",
        "The host answered with a web page instead of its API (maintenance?); trying again "
        "in 5 s (2 of 3).",
    ),
    (
        Redirected("301"),
        "redirect",
        "The host answered with a web page instead of its API: the site may be under "
        "maintenance, or the bot's address for it is wrong. Try again later.",
        "The host answered with a web page instead of its API (maintenance?); trying again "
        "in 5 s (2 of 3).",
    ),
    (
        HostFlooding("130"),
        "flooding",
        "The host is holding back uploads for a while (too many in a short time). Try again later.",
        "The host is holding back uploads for a while (its flood limit); trying again in 5 s "
        "(2 of 3).",
    ),
    (
        ProxyRefusedSize(),
        "proxy",
        "The site's proxy refuses files this large, whatever the host itself accepts. Send a "
        "smaller file, or ask the site's admin to raise the proxy's limit.",
        None,
    ),
]


@pytest.mark.parametrize(("error", "kind", "sentence", "note"), KINDS, ids=[k[1] for k in KINDS])
def test_each_kind_has_its_sentence(
    error: HostError, kind: str, sentence: str, note: str | None
) -> None:
    """Each kind of host failure is one sentence of its own."""
    assert render(error_text(error), "en") == sentence


@pytest.mark.parametrize(("error", "kind", "sentence", "note"), KINDS, ids=[k[1] for k in KINDS])
def test_each_passing_kind_has_its_retry_note(
    error: HostError, kind: str, sentence: str, note: str | None
) -> None:
    """Each kind that passes has a retry note of its own; the proxy's 413 does not pass."""
    assert isinstance(error, HostUnavailable) == (note is not None)
    if note is not None:
        assert render(retry_note(error_text(error), 5.0, 2, 3), "en") == note


@pytest.mark.parametrize(("error", "kind", "sentence", "note"), KINDS, ids=[k[1] for k in KINDS])
def test_each_kind_has_its_metrics_label(
    error: HostError, kind: str, sentence: str, note: str | None
) -> None:
    """Each kind counts under its own label in chevereto_bot_host_errors_total{kind}."""
    assert host_error_kind(error) == kind


def test_every_host_error_class_has_a_label_of_its_own() -> None:
    """No two HostError classes share a label, but for plain HostUnavailable and its
    not-answering kind (``unavailable`` means not answering)."""
    classes = _subclasses(HostError)
    labels = [cls.kind for cls in classes if cls is not HostUnavailable]
    assert len(labels) == len(set(labels))
    assert HostUnavailable.kind == HostNotAnswering.kind == "unavailable"


def _subclasses(cls: type[HostError]) -> list[type[HostError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return [c for c in found if c.__module__ == "bot.errors"]
