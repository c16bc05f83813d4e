"""/format on Telegram: the embed code rides in the answer as a code entity, so a tap copies it
whole; entity offsets count UTF-16 code units, as Telegram does."""

from tests.conftest import KEY
from tests.support.telegram_harness import ALICE_ID, all_answered, photo_update, user_ref
from tests.support.waiting import eventually


def utf16_slice(text: str, offset: int, length: int) -> str:
    units = text.encode("utf-16-le")
    return units[2 * offset : 2 * (offset + length)].decode("utf-16-le")


async def test_a_markdown_code_is_one_code_entity_even_after_wide_characters(
    bot, telegram, chevereto
):
    """/format markdown, then a photo titled with Chinese and an emoji: the one answer holds
    the host's Markdown code, and its code entity covers exactly that code."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    chat = telegram.private_chat(alice)
    telegram.push_update(telegram.message_update(chat, alice, text="/format markdown"))
    await telegram.wait_for(lambda m: "Markdown embed code" in (m["text"] or ""))
    telegram.push_update(photo_update(telegram, chat, alice, caption="猫🐱 on a mat"))
    answer = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    await eventually(lambda: all_answered(bot))
    (image,) = chevereto.images.values()
    expected = (
        f"[![猫🐱 on a mat]({chevereto.url}/images/{image.id}.png)]"
        f"({chevereto.url}/image/{image.id})"
    )
    assert expected in answer["text"].splitlines()
    (entity,) = answer["entities"]
    assert entity["type"] == "code"
    assert utf16_slice(answer["text"], entity["offset"], entity["length"]) == expected
    assert answer["preview_disabled"]


async def test_an_unknown_form_gets_the_usage_and_answers_stay_plain(bot, telegram, chevereto):
    """/format gif is refused with the usage sentence; the next answer carries no code."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    chat = telegram.private_chat(alice)
    telegram.push_update(telegram.message_update(chat, alice, text="/format gif"))
    await telegram.wait_for(lambda m: "Send /format with one of" in (m["text"] or ""))
    telegram.push_update(photo_update(telegram, chat, alice))
    answer = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    assert answer["entities"] == []
    assert "[![" not in answer["text"]
