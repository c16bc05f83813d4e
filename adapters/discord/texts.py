"""Discord's own sentences: its /help line, what mirroring needs, and its app-command labels.

The command descriptions (``command.*``) are the core's, shared with every
platform's command menu; the option descriptions, the duration choices and the
context menu's name exist only on Discord, so they live here.
"""

from __future__ import annotations

from bot.platform import PlatformTexts
from bot.texts import register

TEXTS = PlatformTexts(upload_help="discord.help.upload", mirror_needs="discord.mirror.needs")

EN = {
    TEXTS.upload_help: (
        "/upload — upload an attached image or video, or the file at a link (url); "
        "or, on any message, Apps → Upload to Chevereto"
    ),
    TEXTS.mirror_needs: (
        "I must be able to read this channel's messages, and my Message Content intent "
        "must be enabled."
    ),
    "discord.option.api_key": "Your API key, from your account settings on the site, under API",
    "discord.option.duration": "5m, 1h, 3d, 2w, an ISO-8601 duration like P1D, or off",
    "discord.option.switch": "on or off",
    "discord.option.form": "links only, the direct file link, or an embed code",
    "discord.option.category": "the category's number, or off",
    "discord.option.width": "a width in pixels (at most 10000), or off",
    "discord.option.description": "a description for the upload",
    "discord.option.upload_category": "the category's number",
    "discord.option.upload_width": "shrink the image to this width in pixels, if it is wider",
    "discord.option.file_date": "date it by the file's Exif date (a site admin's key only)",
    "discord.option.album": "The album id from its URL (like 4c), or off",
    "discord.option.file": "The image or video to upload",
    "discord.option.url": "Or a link to the image or video to upload",
    "discord.upload.either": "Give /upload either a file or a url, one of the two.",
    "discord.option.expiration": "When this upload expires (default: your /expire)",
    "discord.option.nsfw": "Mark this upload NSFW (default: your /nsfw)",
    "discord.option.title": "Title (default: the file name)",
    "discord.option.tags": "Tags, separated by commas or spaces",
    "discord.option.upload_album": "Album id from its URL, like 4c (default: your /album)",
    "discord.duration.minute": "{n} minutes",
    "discord.duration.hour": "{n} hours",
    "discord.duration.hour.one": "{n} hour",
    "discord.duration.day": "{n} days",
    "discord.duration.day.one": "{n} day",
    "discord.duration.week": "{n} weeks",
    "discord.duration.week.one": "{n} week",
    "discord.duration.month": "{n} months",
    "discord.duration.month.one": "{n} month",
    "discord.duration.year": "{n} years",
    "discord.duration.year.one": "{n} year",
    "discord.backfill.start": "Re-host this channel's past images and videos, oldest first",
    "discord.backfill.status": "How this channel's backfill is going (its CSV once it ended)",
    "discord.backfill.stop": "Stop this channel's backfill and get the CSV of what was done",
    "discord.option.since": "From this day (YYYY-MM-DD, UTC); default: from the start, or after the last backfill",
    "discord.option.limit": "The most messages to read (default 1000)",
    "discord.option.backfill_album": "The album id to upload into, like 4c: create one for this run",
    "discord.backfill.where": "Run /backfill in a server's text channel, thread or forum post: it reads that channel's history.",
    "discord.backfill.view": "I cannot see this channel: give me the View Channel permission here, then start again.",
    "discord.backfill.history": "I cannot read this channel's history: give me the Read Message History permission here, then start again.",
    "discord.backfill.content": "Discord hides messages' attachments from me: enable the Message Content intent on the Bot page of the developer portal, restart me, then start again.",
    "discord.menu.upload": "Upload to Chevereto",
}

ZH = {
    TEXTS.upload_help: (
        "/upload — 上传附带的图片或视频，或链接（url）处的文件；"
        "或在任意消息上选择 应用 → 上传到 Chevereto"
    ),
    TEXTS.mirror_needs: "我需要能读取此频道的消息，并且需要开启 Message Content（消息内容）权限。",
    "discord.option.api_key": "你的 API 密钥，在网站账户设置的 API 页面",
    "discord.option.duration": "5m、1h、3d、2w、ISO-8601 时长（如 P1D）或 off",
    "discord.option.switch": "开或关",
    "discord.option.form": "仅链接、文件直链或嵌入代码",
    "discord.option.category": "分类编号，或 off",
    "discord.option.width": "像素宽度（最多 10000），或 off",
    "discord.option.description": "本次上传的描述",
    "discord.option.upload_category": "分类编号",
    "discord.option.upload_width": "若图片更宽，缩小到此像素宽度",
    "discord.option.file_date": "使用文件的拍摄日期（Exif）（仅站点管理员的密钥）",
    "discord.option.album": "相册网址中的 ID（如 4c），或 off",
    "discord.option.file": "要上传的图片或视频",
    "discord.option.url": "或要上传的图片或视频的链接",
    "discord.upload.either": "请给 /upload 一个文件或一个 url，二者选其一。",
    "discord.option.expiration": "此次上传的过期时间（默认使用 /expire 的设置）",
    "discord.option.nsfw": "将此次上传标记为 NSFW（默认使用 /nsfw 的设置）",
    "discord.option.title": "标题（默认为文件名）",
    "discord.option.tags": "标签，用逗号或空格分隔",
    "discord.option.upload_album": "相册网址中的 ID，如 4c（默认使用 /album 的设置）",
    "discord.duration.minute": "{n} 分钟",
    "discord.duration.hour": "{n} 小时",
    "discord.duration.hour.one": "{n} 小时",
    "discord.duration.day": "{n} 天",
    "discord.duration.day.one": "{n} 天",
    "discord.duration.week": "{n} 周",
    "discord.duration.week.one": "{n} 周",
    "discord.duration.month": "{n} 个月",
    "discord.duration.month.one": "{n} 个月",
    "discord.duration.year": "{n} 年",
    "discord.duration.year.one": "{n} 年",
    "discord.backfill.start": "从最早的消息开始，把此频道过去的图片和视频转存到图床",
    "discord.backfill.status": "此频道历史回填的进度（结束后附 CSV）",
    "discord.backfill.stop": "停止此频道的历史回填，并获取已完成部分的 CSV",
    "discord.option.since": "从这一天开始（YYYY-MM-DD，UTC）；默认从头开始，或接着上次回填",
    "discord.option.limit": "最多读取的消息数（默认 1000）",
    "discord.option.backfill_album": "要上传到的相册 ID，如 4c：建议为这次回填新建一个相册",
    "discord.backfill.where": "请在服务器的文字频道、子区或论坛帖子中使用 /backfill：它读取所在频道的历史。",
    "discord.backfill.view": "我看不到此频道：请在这里给我“查看频道”权限，然后重新开始。",
    "discord.backfill.history": "我无法读取此频道的历史消息：请在这里给我“阅读消息历史记录”权限，然后重新开始。",
    "discord.backfill.content": "Discord 对我隐藏了消息的附件：请在开发者门户的 Bot 页面开启 Message Content 权限，重启我，然后重新开始。",
    "discord.menu.upload": "上传到 Chevereto",
}

register({"en": EN, "zh": ZH})
