"""The test platform, installed as a plug-in: a ``*.dist-info`` folder declaring its entry point.

Put the folder on ``sys.path`` (``PYTHONPATH`` for ``python -m bot``) and
``bot.platform.registry.installed()`` finds the test platform the way it finds Telegram
and Discord, through ``importlib.metadata``: nothing in ``bot/`` names it.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.platform.registry import GROUP

ROOT = Path(__file__).resolve().parents[2]
"""The repository, where ``tests`` is importable from."""
DIST = "chevereto_bot_testchat-0.0.0.dist-info"
ENTRY_POINT = "testchat = tests.support.chat_platform.settings:ChatSettings"


def install_plugin(folder: Path) -> Path:
    """Writes the dist-info into ``folder`` (made if needed) and returns ``folder``."""
    dist = folder / DIST
    dist.mkdir(parents=True, exist_ok=True)
    metadata = "Metadata-Version: 2.1\nName: chevereto-bot-testchat\nVersion: 0.0.0\n"
    (dist / "METADATA").write_text(metadata, encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\n{ENTRY_POINT}\n", encoding="utf-8")
    return folder


def plugin_pythonpath(folder: Path) -> str:
    """``PYTHONPATH`` for a ``python -m bot`` that finds the plug-in and imports ``tests``."""
    return os.pathsep.join([str(install_plugin(folder)), str(ROOT)])
