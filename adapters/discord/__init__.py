"""The Discord adapter: an auto-sharded discord.py bot on the core's contract (``bot.platform``).

``settings.DiscordSettings`` is what ``python -m bot`` loads; it imports discord.py
only when it builds the adapter, so an unconfigured Discord costs nothing at start.
"""
