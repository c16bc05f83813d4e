"""Telegram's own sentences: how /upload works here, what mirroring needs of the bot, the
button inline mode shows when it found nothing, and why there is no /backfill here."""

from __future__ import annotations

from bot.platform import PlatformTexts
from bot.texts import register

TEXTS = PlatformTexts(
    upload_help="telegram.help.upload",
    mirror_needs="telegram.mirror.needs",
    file_date_note="telegram.filedate",
)
INLINE_NOTHING = "telegram.inline.nothing"
NO_BACKFILL = "telegram.backfill"
"""What /backfill says here: a bot cannot read a Telegram chat's past."""
"""Above an empty inline answer; it opens the private chat with /start (64 characters at most)."""

register(
    {
        "en": {
            TEXTS.upload_help: (
                "/upload — upload the media of the message you reply to; "
                "/upload <link> — the file at a link"
            ),
            TEXTS.mirror_needs: (
                "I must see every message here: make me an admin, "
                "or turn my privacy mode off with @BotFather."
            ),
            INLINE_NOTHING: "No uploads found — switch to a private chat",
            "telegram.filedate": (
                "Telegram removes the date from photos: send the image as a file to keep it."
            ),
            NO_BACKFILL: (
                "Telegram does not let bots read a chat's past messages, so there is nothing to "
                "backfill here. /mirror on re-hosts every image and video posted from now on."
            ),
        },
        "zh": {
            TEXTS.upload_help: (
                "/upload — 回复一条带媒体的消息来上传它；/upload <链接> — 上传链接处的文件"
            ),
            TEXTS.mirror_needs: (
                "我需要能看到这里的所有消息：请把我设为管理员，或通过 @BotFather 关闭隐私模式。"
            ),
            INLINE_NOTHING: "没有找到上传 — 切换到私聊",
            "telegram.filedate": "Telegram 会去除照片中的日期：请以文件形式发送图片以保留它。",
            NO_BACKFILL: (
                "Telegram 不允许机器人读取聊天过去的消息，所以这里无法回填历史。"
                "/mirror on 会转存从现在起发布的每张图片和每个视频。"
            ),
        },
    }
)
