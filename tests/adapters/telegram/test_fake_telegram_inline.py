"""The fake Bot API's inline mode is faithful: the real python-telegram-bot drives it over
HTTP, and it refuses what Telegram refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import (
    Bot,
    InlineQueryResultArticle,
    InlineQueryResultPhoto,
    InlineQueryResultsButton,
    InputTextMessageContent,
)
from telegram.error import BadRequest

from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram

PHOTO = "https://h.example/images/a.jpg"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TEST_TOKEN) as server:
        server.inline_mode = True
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TEST_TOKEN, base_url=fake.api_url, base_file_url=fake.file_url) as client:
        yield client


def photo(result_id: str = "1", thumb: str = PHOTO) -> InlineQueryResultPhoto:
    return InlineQueryResultPhoto(result_id, PHOTO, thumb, caption="https://h.example/image/a")


def query_id(fake: FakeTelegram, words: str = "") -> str:
    update = fake.inline_query_update(fake.user(7), words)
    fake.push_update(update)
    return str(update["inline_query"]["id"])


async def test_an_inline_query_arrives_and_its_answer_is_kept(fake, bot):
    """getUpdates carries the query as PTB parses it; the answer is kept, once, by query id."""
    asked = query_id(fake, "cat")
    (update,) = await bot.get_updates()
    assert update.inline_query is not None
    assert (update.inline_query.query, update.inline_query.from_user.id) == ("cat", 7)
    button = InlineQueryResultsButton("open", start_parameter="start")
    await update.inline_query.answer([photo()], cache_time=10, is_personal=True, button=button)
    answer = fake.inline_answers[asked]
    assert answer["results"][0]["photo_url"] == PHOTO
    assert (answer["cache_time"], answer["is_personal"]) == (10, True)
    assert answer["button"] == {"text": "open", "start_parameter": "start"}
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await update.inline_query.answer([photo()])


async def test_inline_mode_off_means_no_inline_queries(fake, bot):
    """A bot without /setinline: getMe says so, and Telegram makes no inline_query update."""
    fake.inline_mode = False
    assert (await bot.get_me()).supports_inline_queries is False
    query_id(fake)
    assert await bot.get_updates() == ()
    assert len(fake.dropped_updates) == 1


@pytest.mark.parametrize(
    ("results", "error"),
    [
        ([photo(str(n)) for n in range(51)], "RESULTS_TOO_MUCH"),
        ([photo("1"), photo("1")], "RESULT_ID_DUPLICATE"),
        ([photo("x" * 65)], "RESULT_ID_INVALID"),
        ([photo(thumb="")], 'Field "thumbnail_url"'),
        ([photo(thumb="ftp://h.example/t.jpg")], "WEBDOCUMENT_URL_INVALID"),
    ],
    ids=["51 results", "one id twice", "long id", "no thumbnail", "not http"],
)
async def test_malformed_answers_are_refused(fake, bot, results, error):
    """Each answer Telegram refuses is a BadRequest with Telegram's words; nothing is kept."""
    with pytest.raises(BadRequest, match=rf"(?i){error}"):
        await bot.answer_inline_query(query_id(fake), results)
    assert fake.inline_answers == {}


async def test_a_button_opens_the_private_chat_with_a_valid_parameter(fake, bot):
    """A start parameter is 1-64 of A-Z, a-z, 0-9, _ and -."""
    button = InlineQueryResultsButton("open", start_parameter="no spaces")
    with pytest.raises(BadRequest, match=r"(?i)START_PARAM_INVALID"):
        await bot.answer_inline_query(query_id(fake), [], button=button)


async def test_an_article_is_served(fake, bot):
    """An article (a text result) is taken too."""
    article = InlineQueryResultArticle("a", "title", InputTextMessageContent("hello"))
    assert await bot.answer_inline_query(query_id(fake), [article])
