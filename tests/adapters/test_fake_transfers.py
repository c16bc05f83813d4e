"""The fakes under a streamed transfer: the file servers (Telegram's file download, Discord's
CDN, the chat service's /files) serve at their bandwidth, record each download, and cut one
in the middle when told; the fake Chevereto reads an upload at its bandwidth and stores
nothing from a body that stops before its end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.chevereto import CheveretoClient, StreamSource
from bot.errors import SourceUnavailable
from tests.conftest import KEY
from tests.support import piping
from tests.support.fakes.chat_api import FakeChat
from tests.support.fakes.chevereto import UPLOAD_PATH, FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.fakes.transfer import Transfer
from tests.support.piping import md5
from tests.support.waiting import eventually

SIZE = 300 * 1024
BANDWIDTH = 1024 * 1024.0
"""300 KB at 1 MB/s: about 0.3 s, long enough to see, short enough for the fast loop."""


def png() -> bytes:
    """A unique file the fake host takes for a PNG."""
    return piping.png(SIZE)


@dataclass
class Served:
    """A file on one fake's file server: where to GET it, and the fake's records of it."""

    url: str
    key: str
    """What the fake's ``download_count`` takes."""
    transfers: Callable[[], list[Transfer]]
    count: Callable[[str], int]
    cut_next: Callable[[int | None], None]


async def _telegram(data: bytes, bandwidth: float | None) -> AsyncIterator[Served]:
    async with FakeTelegram(bandwidth=bandwidth) as fake, httpx.AsyncClient() as http:
        ref = fake.add_file(data, mime_type="image/png")
        answer = await http.post(
            f"{fake.api_url}{TEST_TOKEN}/getFile", data={"file_id": ref.file_id}
        )
        path = answer.json()["result"]["file_path"]
        url = f"{fake.file_url}{TEST_TOKEN}/{path}"
        yield Served(
            url, ref.file_id, lambda: fake.transfers, fake.download_count, fake.cut_next_download
        )


async def _discord(data: bytes, bandwidth: float | None) -> AsyncIterator[Served]:
    async with FakeDiscord("transfer-test-token-0123", bandwidth=bandwidth) as fake:
        attachment = fake.add_attachment(data, filename="a.png", content_type="image/png")
        yield Served(
            attachment["url"],
            attachment["id"],
            lambda: fake.transfers,
            fake.download_count,
            fake.cut_next_download,
        )


async def _chat(data: bytes, bandwidth: float | None) -> AsyncIterator[Served]:
    async with FakeChat(bandwidth=bandwidth) as fake, httpx.AsyncClient() as http:
        alice = fake.user("1")
        fake.post(alice, fake.private(alice), files=[("a.png", "image/png", data)])
        updates = (await http.get(f"{fake.url}/updates")).json()["updates"]
        file_id = updates[0]["message"]["files"][0]["id"]
        yield Served(
            f"{fake.url}/files/{file_id}",
            file_id,
            lambda: fake.transfers,
            fake.download_count,
            fake.cut_next_download,
        )


SERVERS = {"telegram": _telegram, "discord": _discord, "testchat": _chat}


@pytest.fixture(params=sorted(SERVERS))
def serving(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Serves bytes on one fake's file server: ``async with serving(data, bandwidth) as s``."""
    return contextlib.asynccontextmanager(SERVERS[request.param])


async def test_a_download_goes_at_the_bandwidth_and_is_recorded(serving) -> None:
    """The file comes whole at about its bandwidth; its start and end are recorded, once."""
    data = png()
    async with serving(data, BANDWIDTH) as served, httpx.AsyncClient() as http:
        began = time.monotonic()
        answer = await http.get(served.url)
        took = time.monotonic() - began
        (transfer,) = served.transfers()
        assert served.count(served.key) == 1
    assert answer.content == data
    assert answer.headers["content-length"] == str(len(data))
    assert took >= 0.9 * len(data) / BANDWIDTH
    assert transfer.finished is not None
    assert transfer.finished - transfer.started >= 0.9 * len(data) / BANDWIDTH
    assert (transfer.sent, transfer.size, transfer.cut) == (len(data), len(data), False)


async def test_without_a_bandwidth_a_download_goes_at_once(serving) -> None:
    """No bandwidth: the file comes whole, fast, and is recorded the same."""
    data = png()
    async with serving(data, None) as served, httpx.AsyncClient() as http:
        answer = await http.get(served.url)
        (transfer,) = served.transfers()
    assert md5(answer.content) == md5(data)
    assert transfer.finished is not None
    assert transfer.finished - transfer.started < 0.2


async def test_a_cut_download_sends_part_of_the_file_then_closes(serving) -> None:
    """A cut download promises the whole file, sends the first bytes, then closes: the client
    sees a body cut short; the next download is whole; both are counted."""
    data = png()
    async with serving(data, None) as served, httpx.AsyncClient() as http:
        served.cut_next(1000)
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            await read_into(received, http, served.url, promised=len(data))
        whole = await http.get(served.url)
        cut, complete = served.transfers()
        assert served.count(served.key) == 2
    assert received == data[:1000]
    assert (cut.cut, cut.sent, cut.finished) == (True, 1000, None)
    assert whole.content == data
    assert complete.finished is not None


async def read_into(received: bytearray, http: httpx.AsyncClient, url: str, promised: int) -> None:
    """GETs ``url`` into ``received`` chunk by chunk, checking the length it was promised."""
    async with http.stream("GET", url) as response:
        assert response.headers["content-length"] == str(promised)
        async for chunk in response.aiter_raw():
            received += chunk


async def test_a_cut_is_half_the_file_by_default(serving) -> None:
    """Told no length, a cut download sends half the file."""
    data = png()
    async with serving(data, None) as served, httpx.AsyncClient() as http:
        served.cut_next(None)
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(served.url)
        (transfer,) = served.transfers()
    assert transfer.sent == len(data) // 2


async def test_the_chat_declares_a_size_of_the_tests_choosing() -> None:
    """``declared_size`` is what the message says of its file; the download is the file."""
    async with FakeChat() as chat, httpx.AsyncClient(base_url="") as http:
        alice = chat.user("1")
        chat.post(
            alice, chat.private(alice), files=[("a.png", "image/png", b"12345")], declared_size=9
        )
        (update,) = (await http.get(f"{chat.url}/updates")).json()["updates"]
        (file,) = update["message"]["files"]
        answer = await http.get(f"{chat.url}/files/{file['id']}")
    assert (file["size"], answer.content) == (9, b"12345")


# --- the fake Chevereto ----------------------------------------------------------------


def streamed(data: bytes, fail_after: int | None = None) -> StreamSource:
    """``data`` as the pipe hands it over; with ``fail_after``, the source breaks there."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 16 * 1024):
            if fail_after is not None and start >= fail_after:
                raise SourceUnavailable("the download broke")
            yield data[start : start + 16 * 1024]
            await asyncio.sleep(0)

    return StreamSource(chunks, len(data), "a.png", "image/png")


async def test_the_host_records_when_an_upload_came_was_read_and_answered(
    chevereto: FakeChevereto, client: CheveretoClient
) -> None:
    """A whole upload: stored; it arrived, then its body was read, then it was answered."""
    data = png()
    image = await client.upload(KEY, streamed(data))
    (record,) = chevereto.upload_requests
    assert image.md5 == md5(data)
    assert record.received is not None
    assert record.finished is not None
    assert record.at <= record.received <= record.finished
    assert not record.incomplete


async def test_the_host_reads_an_upload_at_its_bandwidth() -> None:
    """With a bandwidth, the host takes about size / bandwidth to read the file."""
    async with FakeChevereto(bandwidth=BANDWIDTH) as slow:
        slow.add_key(KEY)
        async with CheveretoClient(slow.url, timeout=3.0) as client:
            data = png()
            await client.upload(KEY, streamed(data))
        (record,) = slow.upload_requests
        (image,) = slow.images.values()
    assert record.received is not None
    assert record.received - record.at >= 0.9 * len(data) / BANDWIDTH
    assert image.md5 == md5(data)


async def test_the_host_stores_nothing_from_an_upload_aborted_midway(
    chevereto: FakeChevereto, client: CheveretoClient
) -> None:
    """The client aborts the body midway (its source broke): the request is recorded
    incomplete and no image is stored."""
    with pytest.raises(SourceUnavailable):
        await client.upload(KEY, streamed(png(), fail_after=SIZE // 2))
    await eventually(lambda: any(r.incomplete for r in chevereto.upload_requests), within=5)
    (record,) = chevereto.upload_requests
    assert (record.file_size, record.received) == (None, None)
    assert chevereto.images == {}


def multipart(data: bytes) -> tuple[str, bytes]:
    boundary = "fake-test-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="format"\r\n\r\njson\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="source"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return boundary, body + data + f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize("end", ["half-close", "close"])
async def test_the_host_stores_nothing_from_a_body_shorter_than_its_content_length(
    chevereto: FakeChevereto, end: str
) -> None:
    """A whole multipart body, but fewer bytes than its Content-Length said, then the client
    stops: the site waits for the rest as PHP does, and stores nothing."""
    boundary, body = multipart(png())
    port = int(chevereto.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {UPLOAD_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body) + 100}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    await eventually(lambda: len(chevereto.upload_requests) == 1, within=5)
    if end == "half-close":
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # no answer, the connection closed
    writer.close()
    await eventually(lambda: chevereto.upload_requests[0].incomplete, within=5)
    assert chevereto.images == {}
