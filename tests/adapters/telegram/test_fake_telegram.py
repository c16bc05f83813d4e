"""The fake Bot API is faithful: the real python-telegram-bot drives it over HTTP, no mocks."""

import asyncio
import datetime as dtm
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import (
    Bot,
    BotCommand,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MessageEntity,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
)
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from tests.support.fakes.telegram_api import BOT_USERNAME, TEST_TOKEN, FakeTelegram

JPEG = b"\xff\xd8\xff\xe0" + b"fake jpeg body" * 100


@pytest.fixture(autouse=True)
async def no_task_left_running() -> AsyncIterator[None]:
    yield  # set up first, so this runs after the fake and the bot are closed
    await asyncio.sleep(0)
    assert other_tasks() == set()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TEST_TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TEST_TOKEN, base_url=fake.api_url, base_file_url=fake.file_url) as client:
        yield client


def build_app(fake: FakeTelegram) -> Application:
    async def start(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("hello")

    app = (
        ApplicationBuilder()
        .token(TEST_TOKEN)
        .base_url(fake.api_url)
        .base_file_url(fake.file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def other_tasks() -> set[asyncio.Task[object]]:
    current = asyncio.current_task()
    return {task for task in asyncio.all_tasks() if task is not current}


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    """getMe answers a bot user whose id is the token's number and whose flags PTB parses."""
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (int(TEST_TOKEN.split(":")[0]), True, BOT_USERNAME)
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False


async def test_send_message_records_parsed_markup_and_disabled_preview(
    fake: FakeTelegram, bot: Bot
) -> None:
    """sendMessage is recorded with its keyboard decoded from JSON and the preview turned off."""
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Delete", callback_data="del:1")]])
    message = await bot.send_message(
        7,
        "https://img.example/x",
        reply_markup=keyboard,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    sent = fake.sent[-1]
    assert sent["chat_id"] == 7
    assert sent["text"] == "https://img.example/x"
    assert sent["reply_markup"] == {
        "inline_keyboard": [[{"text": "Delete", "callback_data": "del:1"}]]
    }
    assert sent["link_preview_options"] == {"is_disabled": True}
    assert sent["preview_disabled"] is True
    assert (message.message_id, message.chat.type) == (sent["message_id"], "private")
    assert message.reply_markup == keyboard
    assert message.from_user is not None
    assert message.from_user.id == fake.bot_id


async def test_long_poll_wakes_on_push_and_offset_confirms(fake: FakeTelegram, bot: Bot) -> None:
    """A waiting getUpdates returns as soon as an update is pushed; the next offset removes it."""
    user = fake.user(7)
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for_call("getUpdates")
    started = time.monotonic()
    update_id = fake.push_update(fake.message_update(fake.private_chat(user), user, text="hi"))
    updates = await poll
    assert time.monotonic() - started < 1
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None
    assert updates[0].message.text == "hi"
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
    assert fake.get_updates_offsets == [None, update_id + 1]
    assert fake.pending_updates == []


async def test_a_raw_update_is_served_as_pushed(fake: FakeTelegram, bot: Bot) -> None:
    """push_raw_update queues a dict unchecked, numbered after the others: PTB's get_updates
    cannot parse a batch that holds it."""
    user = fake.user(7)
    first = fake.push_update(fake.message_update(fake.private_chat(user), user, text="hi"))
    raw = fake.push_raw_update({"message": "garbage"})
    assert fake.pending_updates[-1] == {"message": "garbage", "update_id": first + 1}
    assert raw == first + 1
    with pytest.raises(AttributeError):
        await bot.get_updates(timeout=0)


async def test_newer_long_poll_ends_older_one_with_conflict(fake: FakeTelegram, bot: Bot) -> None:
    """Two bots polling at once: the older getUpdates ends with 409, as Telegram answers."""
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for_call("getUpdates")
    async with Bot(TEST_TOKEN, base_url=fake.api_url) as second:  # PTB polls one at a time
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await older


async def test_stopping_the_server_ends_a_long_poll_promptly() -> None:
    """Leaving the fake's context answers a waiting getUpdates at once, not after its timeout."""
    async with FakeTelegram(token=TEST_TOKEN) as server:
        client = Bot(TEST_TOKEN, base_url=server.api_url)
        await client.initialize()
        poll = asyncio.create_task(client.get_updates(timeout=30))
        await server.wait_for_call("getUpdates")
        started = time.monotonic()
    assert await poll == ()
    assert time.monotonic() - started < 2
    await client.shutdown()


async def test_get_file_path_is_relative_and_download_gets_bytes(
    fake: FakeTelegram, bot: Bot, tmp_path: Path
) -> None:
    """getFile answers a relative path, PTB prefixes the file URL, and the download is the bytes."""
    ref = fake.add_file(JPEG)
    assert ref.file_path.startswith("photos/file_")
    assert ref.file_path.endswith(".jpg")
    file = await bot.get_file(ref.file_id)
    assert file.file_path == f"{fake.file_url}{TEST_TOKEN}/{ref.file_path}"
    assert file.file_size == len(JPEG)
    target = await file.download_to_drive(tmp_path / "x.jpg")
    assert target.read_bytes() == JPEG
    assert fake.downloads == [ref.file_path]


async def test_file_over_20_mb_is_refused_unless_local_mode(
    fake: FakeTelegram, bot: Bot, tmp_path: Path
) -> None:
    """getFile refuses a 21 MB file with 400 "file is too big", and serves it in local mode."""
    big = tmp_path / "big.mp4"
    with big.open("wb") as f:
        f.truncate(21 * 1024 * 1024)  # sparse: no 21 MB written
    ref = fake.add_file_path(big, mime_type="video/mp4")
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(ref.file_id)
    fake.local_mode = True
    file = await bot.get_file(ref.file_id)
    assert file.file_size == 21 * 1024 * 1024


async def test_injected_403_raises_forbidden_once(fake: FakeTelegram, bot: Bot) -> None:
    """A 403 injected for one chat raises Forbidden there once; later sends go through."""
    fake.fail(
        "sendMessage", status=403, description="Forbidden: bot was blocked by the user", chat_id=7
    )
    await bot.send_message(8, "other chat")
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(7, "link")
    await bot.send_message(7, "again")
    assert [m["chat_id"] for m in fake.sent] == [8, 7]


async def test_forbidden_chat_refuses_every_send(fake: FakeTelegram, bot: Bot) -> None:
    """forbid_chat makes every message to that user raise Forbidden, as for a never-started bot."""
    fake.forbid_chat(7)
    for _ in range(2):
        with pytest.raises(Forbidden, match="can't initiate conversation"):
            await bot.send_message(7, "your delete link")
    assert fake.sent == []
    assert len(fake.calls_to("sendMessage")) == 2


async def test_injected_429_raises_retry_after(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 with parameters.retry_after raises RetryAfter carrying that delay."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when reading it as an int
    fake.fail(
        "sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(7, "x")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    """A request with another token answers 401, which PTB raises as InvalidToken."""
    with pytest.raises(InvalidToken):
        async with Bot("999:XYZ", base_url=fake.api_url):  # initialize() calls getMe
            pass
    assert fake.unauthorized_requests == 1
    assert fake.calls == []


async def test_unknown_method_answers_404_and_is_recorded(fake: FakeTelegram, bot: Bot) -> None:
    """A method the fake does not serve answers 404 and still appears in fake.calls."""
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendRocket", api_kwargs={"to": "moon"})
    assert fake.calls[-1] == {"method": "sendRocket", "params": {"to": "moon"}}


async def test_application_polling_answers_start_command(fake: FakeTelegram) -> None:
    """An Application polling the fake runs its CommandHandler for /start and stops cleanly."""
    app = build_app(fake)
    user = fake.user(7, language_code="zh-hans")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling()
        update_id = fake.push_update(
            fake.message_update(fake.private_chat(user), user, text="/start")
        )
        reply = await fake.wait_for(lambda m: m["chat_id"] == 7, timeout=5)
        await app.updater.stop()
        await app.stop()
    assert reply["text"] == "hello"
    assert fake.get_updates_offsets[-1] == update_id + 1  # PTB confirmed it when stopping
    assert fake.pending_updates == []
    assert [c["method"] for c in fake.calls[:2]] == ["getMe", "deleteWebhook"]


async def test_application_webhook_receives_pushed_updates() -> None:
    """In webhook mode the fake records setWebhook, POSTs pushed updates with the secret."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    async with FakeTelegram(token=TEST_TOKEN) as server:
        app = build_app(server)
        user = server.user(7)
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_webhook(
                listen="127.0.0.1",
                port=port,
                url_path="hook",
                webhook_url=url,
                secret_token="s3cret",
            )
            assert server.webhook is not None
            assert (server.webhook["url"], server.webhook["secret_token"]) == (url, "s3cret")
            stray = server.message_update(server.private_chat(user), user, text="/start")
            assert await server.post_webhook(url, stray, "wrong") == 403
            with pytest.raises(Conflict, match="webhook is active"):
                await app.bot.get_updates()
            server.push_update(
                server.message_update(server.private_chat(user), user, text="/start")
            )
            reply = await server.wait_for(lambda m: m["chat_id"] == 7, timeout=5)
            await app.updater.stop()
            await app.stop()
    assert reply["text"] == "hello"
    assert [status for _, status in server.webhook_deliveries] == [200]


async def test_set_my_commands_recorded_per_language(fake: FakeTelegram, bot: Bot) -> None:
    """setMyCommands is stored per language code; a region code like zh_Hans is refused."""
    await bot.set_my_commands([BotCommand("link", "link your API key")])
    await bot.set_my_commands([BotCommand("link", "绑定 API 密钥")], language_code="zh")
    assert fake.commands_for("zh") == [{"command": "link", "description": "绑定 API 密钥"}]
    assert fake.commands_for() == [{"command": "link", "description": "link your API key"}]
    assert (await bot.get_my_commands(language_code="zh"))[0].description == "绑定 API 密钥"
    with pytest.raises(BadRequest, match=r"(?i)invalid language code"):
        await bot.set_my_commands([BotCommand("link", "x")], language_code="zh_Hans")


async def test_edit_with_same_content_is_not_modified(fake: FakeTelegram, bot: Bot) -> None:
    """Editing a message to the text it already has answers 400 "message is not modified"."""
    message = await bot.send_message(7, "uploading 50%")
    await bot.edit_message_text("uploading 100%", chat_id=7, message_id=message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("uploading 100%", chat_id=7, message_id=message.message_id)
    assert [m["method"] for m in fake.sent] == ["sendMessage", "editMessageText"]


async def test_deleting_in_a_group_needs_admin_rights(fake: FakeTelegram, bot: Bot) -> None:
    """The bot can delete a member's group message only once it is an administrator."""
    group, user = fake.group_chat(-100123), fake.user(7)
    posted = fake.message(group, user, text="/link chv_secret")
    with pytest.raises(BadRequest, match=r"(?i)can't be deleted"):
        await bot.delete_message(-100123, posted["message_id"])
    fake.set_chat_member(-100123, fake.bot_id, "administrator")
    assert await bot.delete_message(-100123, posted["message_id"]) is True
    assert fake.deleted == [(-100123, posted["message_id"])]
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(-100123, "link in private", reply_to_message_id=posted["message_id"])


async def test_chat_member_statuses_parse_in_ptb(fake: FakeTelegram, bot: Bot) -> None:
    """getChatMember answers owner, administrator and default member objects PTB can parse."""
    fake.group_chat(-100123)
    fake.set_chat_member(-100123, 1, "creator")
    fake.set_chat_member(-100123, 2, "administrator")
    assert isinstance(await bot.get_chat_member(-100123, 1), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(-100123, 2), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(-100123, 3), ChatMemberMember)
    assert (await bot.get_chat(-100123)).title == "G"


async def test_callback_query_is_answered_once(fake: FakeTelegram, bot: Bot) -> None:
    """A pressed button's query can be answered once; a second answer is "query is too old"."""
    user = fake.user(7)
    await bot.send_message(7, "delete?")
    pressed = fake.callback_query(user, fake.sent[-1], "del:1")
    update = Update.de_json({"update_id": 1, **pressed}, bot)
    assert update.callback_query is not None
    assert update.callback_query.data == "del:1"
    assert await bot.answer_callback_query(update.callback_query.id, text="deleted") is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(update.callback_query.id)


async def test_built_media_messages_parse_in_ptb(fake: FakeTelegram, bot: Bot) -> None:
    """Builder messages parse in PTB: declared size, largest photo last, hashtags, animations."""
    group, user = fake.group_chat(-100123), fake.user(7)
    photo = fake.message(
        group,
        user,
        photo=fake.add_file(JPEG),
        caption="猫 #cats",
        declared_size=10**9,
        media_group_id="g1",
    )
    message = Update.de_json({"update_id": 1, "message": photo}, bot).message
    assert message is not None
    assert [p.width for p in message.photo] == [90, 320, 1280]
    assert message.photo[-1].file_size == 10**9
    assert list(message.parse_caption_entities([MessageEntity.HASHTAG]).values()) == ["#cats"]
    gif = fake.message(group, user, animation=fake.add_file(b"GIF89a...", file_name="a.gif"))
    parsed = Update.de_json({"update_id": 2, "message": gif}, bot).message
    assert parsed is not None
    assert parsed.animation is not None
    assert parsed.document is not None  # Telegram sets both on an animation


async def test_markdown_v2_needs_escaped_dots(fake: FakeTelegram, bot: Bot) -> None:
    """An unescaped "." in MarkdownV2 is refused with "can't parse entities", as Telegram does."""
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(7, "see img.example", parse_mode="MarkdownV2")
    await bot.send_message(7, "see img\\.example", parse_mode="MarkdownV2")
    assert fake.sent[-1]["message"]["text"] == "see img.example"


async def test_local_mode_answers_absolute_paths_ptb_copies(
    fake: FakeTelegram, bot: Bot, tmp_path: Path
) -> None:
    """With local_file_paths getFile answers a path on disk, which PTB copies, not fetches."""
    fake.local_mode = fake.local_file_paths = True
    ref = fake.add_file(JPEG)
    file = await bot.get_file(ref.file_id)
    assert file.file_path is not None
    assert Path(file.file_path).is_absolute()
    assert (await file.download_to_drive(tmp_path / "x.jpg")).read_bytes() == JPEG
    assert fake.downloads == []


async def test_privacy_mode_hides_group_media_until_bot_is_admin(fake: FakeTelegram) -> None:
    """In privacy mode a group photo never reaches the bot, a command does; an admin sees all."""
    group, user = fake.group_chat(-100123), fake.user(7)
    photo = fake.add_file(JPEG)
    fake.push_update(fake.message_update(group, user, photo=photo))
    fake.push_update(fake.message_update(group, user, text="/mirror@chevereto_test_bot on"))
    fake.set_chat_member(-100123, fake.bot_id, "administrator")
    fake.push_update(fake.message_update(group, user, photo=photo))
    assert [("photo" in u["message"]) for u in fake.pending_updates] == [False, True]
    assert len(fake.dropped_updates) == 1
