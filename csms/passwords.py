"""Charger password hashing: scrypt from the standard library, in a thread.

Stored as ``scrypt$n$r$p$salt_b64$hash_b64`` so the cost can change without a migration:
old hashes keep verifying with their own parameters. Charger passwords are machine secrets
of at least 16 characters (OCPP 2.0.1 BasicAuthPassword), so a moderate cost (about 5 ms)
is enough; it keeps a reconnect storm of thousands of chargers affordable. Successful
verifications are remembered in memory (:class:`VerifiedCache`) so a reconnecting charger
costs a digest, not a key derivation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

__all__ = ["VerifiedCache", "hash_password", "verify_password"]

_N, _R, _P = 2**11, 8, 1


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def hash_password_sync(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, _N, _R, _P)
    return "$".join(
        [
            "scrypt",
            str(_N),
            str(_R),
            str(_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify_password_sync(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest_b64)
        actual = _derive(password, base64.b64decode(salt_b64), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hash_password_sync, password)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, stored)


class VerifiedCache:
    """Passwords already verified against a stored hash, as keyed digests in memory.

    The key is per process and random, so the cache holds nothing an attacker could use
    offline. A changed stored hash (new password) simply misses the cache.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: dict[str, bytes] = {}
        self._max = max_entries

    def _digest(self, password: str, stored: str) -> bytes:
        return hmac.new(self._key, f"{stored}\0{password}".encode(), hashlib.sha256).digest()

    async def verify(self, password: str, stored: str) -> bool:
        digest = self._digest(password, stored)
        known = self._seen.get(stored)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        if not await verify_password(password, stored):
            return False
        if len(self._seen) >= self._max:
            self._seen.clear()
        self._seen[stored] = digest
        return True
