"""The admin bearer token: only its SHA-256 digest is stored and compared."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import asyncpg
from aiohttp import web

from csms.errors import Unauthorized
from csms.store import admin_credentials

__all__ = ["check_bearer", "ensure_admin_token", "token_digest"]


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


async def ensure_admin_token(
    pool: asyncpg.Pool, configured: str | None
) -> tuple[bytes, str | None]:
    """Settle the admin token at start-up.

    Args:
        pool: the database.
        configured: ``CSMS_ADMIN_TOKEN``; ``None`` or an empty string means unset.

    Returns:
        ``(digest, None)`` when a token was configured (the database then holds its digest)
        or one was stored before; ``(digest, token)`` when a new token was generated and
        stored, so the caller can print it once.
    """
    async with pool.acquire() as conn:
        if configured:
            digest = token_digest(configured)
            if not await admin_credentials.store_if_absent(conn, digest):
                stored = await admin_credentials.digest(conn)
                if stored is None or not hmac.compare_digest(stored, digest):
                    await admin_credentials.replace(conn, digest)
            return digest, None
        stored = await admin_credentials.digest(conn)
        if stored is not None:
            return stored, None
        token = secrets.token_urlsafe(32)
        digest = token_digest(token)
        if await admin_credentials.store_if_absent(conn, digest):
            return digest, token
        # Another process stored one first: use theirs, ours was never valid.
        stored = await admin_credentials.digest(conn)
        assert stored is not None
        return stored, None


def check_bearer(request: web.Request, expected_sha256: bytes) -> None:
    """Raise Unauthorized unless the request carries ``Authorization: Bearer <token>``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    if not hmac.compare_digest(token_digest(token), expected_sha256):
        raise Unauthorized("invalid bearer token")
