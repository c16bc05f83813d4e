"""The Discord adapter: ``DiscordAdapter(core)``, then ``await adapter.run()``."""

from adapters.discord_.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]
