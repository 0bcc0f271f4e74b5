"""Tokens at rest: Fernet encryption with key rotation (MultiFernet).

The first key encrypts, every key decrypts, so a new key is rolled out by prepending it
and the old one removed once `rotate` has re-encrypted the stored tokens.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

DEV_KEY_SEED = b"qbsync development token key (never for production)"


class TokenCipher:
    """Encrypts and decrypts connection tokens with a list of Fernet keys.

    Args:
        keys: Comma-separated url-safe base64 Fernet keys; empty means a fixed
            development key (the app refuses that in production).
    """

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            parts = [base64.urlsafe_b64encode(hashlib.sha256(DEV_KEY_SEED).digest()).decode()]
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])

    def encrypt(self, plain: bytes) -> bytes:
        """Encrypt with the first key."""
        return self._fernet.encrypt(plain)

    def decrypt(self, token: bytes) -> bytes:
        """Decrypt with whichever key encrypted it.

        Raises:
            InvalidToken: No configured key opens it (a key was removed too early).
        """
        return self._fernet.decrypt(token)

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the first key."""
        return self._fernet.rotate(token)


__all__ = ["InvalidToken", "TokenCipher"]
