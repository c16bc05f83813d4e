"""Real-host details the client and the fake both follow (chevereto-api.md): the part's type
decides image or video, and every answer sets a session cookie that must not be kept."""

from __future__ import annotations

import secrets

import httpx
import pytest

from bot.chevereto import CheveretoClient, FileSource
from bot.chevereto.probe import probe_png
from bot.errors import FileRefused
from tests.conftest import KEY, OTHER_KEY
from tests.support.fakes.chevereto import UPLOAD_PATH, FakeChevereto


def mp4_file(tmp_path, name: str = "clip.mp4"):
    path = tmp_path / name
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + secrets.token_bytes(64))
    return path


async def test_the_fake_refuses_a_video_sent_as_octet_stream(client, chevereto, tmp_path):
    """As the real site: a video part typed application/octet-stream is read as an image, 610."""
    source = FileSource(mp4_file(tmp_path), "clip.mp4", "application/octet-stream")
    with pytest.raises(FileRefused):
        await client.upload(KEY, source)
    assert chevereto.upload_requests[0].file_type == "application/octet-stream"
    assert chevereto.images == {}


async def test_a_video_typed_video_is_taken(client, chevereto, tmp_path):
    """The same file typed video/mp4 is stored as a video."""
    image = await client.upload(KEY, FileSource(mp4_file(tmp_path), "clip.mp4", "video/mp4"))
    assert image.type == "video"
    assert chevereto.upload_requests[0].file_type == "video/mp4"


async def test_every_answer_sets_a_session_cookie(chevereto: FakeChevereto):
    """The fake, like the site, starts a PHP session on every answer, errors included."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(chevereto.url + UPLOAD_PATH)
    assert answer.json()["error"]["code"] == 100
    assert "PHPSESSID=" in answer.headers["set-cookie"]


async def test_the_client_keeps_no_cookie(client: CheveretoClient, chevereto, tmp_path):
    """Two uploads with two users' keys on one client: the second sends no Cookie header."""
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    first.write_bytes(probe_png())
    second.write_bytes(probe_png())
    await client.upload(KEY, FileSource(first, "a.png"))
    await client.upload(OTHER_KEY, FileSource(second, "b.png"))
    assert [r.headers.get("cookie") for r in chevereto.upload_requests] == [None, None]
