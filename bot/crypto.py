"""Encryption at rest for API keys and delete links, and the secrets kept in DATA_DIR."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def read_or_create_secret(path: Path) -> str:
    """The secret stored at ``path``, created (mode 0600) on first use and reused after."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(value)
    return value


def _fernet_key(secret: str) -> bytes:
    """Any SECRET_KEY string becomes a Fernet key through HKDF, so its form does not matter."""
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"chevereto-bot/v1"
    ).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


class DecryptionFailed(Exception):
    """A stored value does not open with this SECRET_KEY (it changed, or the data is damaged)."""


class Vault:
    """Encrypts and decrypts short secrets (API keys, delete links) with one SECRET_KEY."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(_fernet_key(secret))

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            raise DecryptionFailed("stored secret does not decrypt with SECRET_KEY") from None
