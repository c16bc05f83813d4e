"""Chevereto API v1.1: the client, the request body it streams, and the answers it reads."""

from bot.chevereto.client import CheveretoClient
from bot.chevereto.multipart import Base64Source, FileSource, Progress, Source, StreamSource

__all__ = ["Base64Source", "CheveretoClient", "FileSource", "Progress", "Source", "StreamSource"]
