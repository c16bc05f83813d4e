"""Telegram adapter: python-telegram-bot in, core calls, Telegram messages out."""

from adapters.telegram.adapter import TelegramAdapter

__all__ = ["TelegramAdapter"]
