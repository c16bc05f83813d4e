"""Telegram adapter: python-telegram-bot in, core calls, Telegram messages out.

Importing this package imports no SDK: ``python -m bot`` loads ``settings.py``
through its entry point, and only a configured Telegram builds ``adapter.py``.
"""
