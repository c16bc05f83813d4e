"""The test platform's own sentences: how /upload works there, and what mirroring needs."""

from __future__ import annotations

from bot.platform import PlatformTexts
from bot.texts import register

TEXTS = PlatformTexts(upload_help="testchat.help.upload", mirror_needs="testchat.mirror.needs")

register(
    {
        "en": {
            TEXTS.upload_help: "/upload — reply with it to a message that holds files",
            TEXTS.mirror_needs: "Every message of a group reaches me: nothing more is needed.",
        },
        "zh": {
            TEXTS.upload_help: "/upload — 用它回复一条带文件的消息",
            TEXTS.mirror_needs: "群组里的每条消息我都能收到：无需其他设置。",
        },
    }
)
