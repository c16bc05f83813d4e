"""Telegram's own sentences: how /upload works here, and what mirroring needs of the bot."""

from __future__ import annotations

from bot.platform import PlatformTexts
from bot.texts import register

TEXTS = PlatformTexts(upload_help="telegram.help.upload", mirror_needs="telegram.mirror.needs")

register(
    {
        "en": {
            TEXTS.upload_help: "/upload — upload the media of the message you reply to",
            TEXTS.mirror_needs: (
                "I must see every message here: make me an admin, "
                "or turn my privacy mode off with @BotFather."
            ),
        },
        "zh": {
            TEXTS.upload_help: "/upload — 回复一条带媒体的消息来上传它",
            TEXTS.mirror_needs: (
                "我需要能看到这里的所有消息：请把我设为管理员，或通过 @BotFather 关闭隐私模式。"
            ),
        },
    }
)
