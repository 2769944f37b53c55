"""Token storage: encrypted at rest, refreshed before expiry, never spent twice.

A *grant* is one Connect authorisation of one Smartcar user: an access token (2 hours)
and a refresh token (60 days) that together cover every vehicle the user selected.
:class:`TokenVault` keeps grants in PostgreSQL with both tokens encrypted by
:class:`TokenCipher` (AES-256-GCM, the column name as associated data, so a ciphertext
cannot be moved to another column), and hands out a valid :class:`Auth` per vehicle.

Refreshing spends the refresh token (Smartcar rotates it), so exactly one worker may do
it: an in-process lock per grant keeps this process's tasks in line, and
``SELECT ... FOR UPDATE`` on the grant row keeps other processes out. The holder re-reads
the row, refreshes only if the token is still the stale one, and writes the rotated pair
before it commits. ``invalid_grant`` marks the grant ``reauth_required`` in the same
transaction; only a new Connect clears it.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from smartcar_bridge import store
from smartcar_bridge.errors import InvalidGrant, ReauthorizationRequired
from smartcar_bridge.models import TokenSet
from smartcar_bridge.oauth import OAuthClient
from smartcar_bridge.store import Row
from smartcar_bridge.transport import Auth

__all__ = ["TokenCipher", "TokenVault", "UnreadableToken"]

_VERSION = b"\x01"
_NONCE_BYTES = 12


class UnreadableToken(Exception):
    """A stored token cannot be decrypted: wrong key, or the ciphertext was altered."""


class TokenCipher:
    """AES-256-GCM for tokens at rest. Layout: version byte, 12-byte nonce, ciphertext.

    Args:
        key: 32 bytes; :meth:`from_text` reads the URL-safe base64 form that
            :meth:`generate_key` writes.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the token key must be 32 bytes (256 bits)")
        self._aead = AESGCM(key)

    @staticmethod
    def generate_key() -> str:
        """A new random key, as text for a setting or a key file."""
        return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> TokenCipher:
        try:
            key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ValueError("the token key is not URL-safe base64") from None
        return cls(key)

    def encrypt(self, plaintext: str, purpose: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), purpose.encode())
        return _VERSION + nonce + sealed

    def decrypt(self, ciphertext: bytes, purpose: str) -> str:
        if ciphertext[:1] != _VERSION or len(ciphertext) < 1 + _NONCE_BYTES + 16:
            raise UnreadableToken("unknown token format")
        nonce, sealed = ciphertext[1 : 1 + _NONCE_BYTES], ciphertext[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, purpose.encode()).decode("utf-8")
        except InvalidTag:
            raise UnreadableToken("token cannot be decrypted with this key") from None


class TokenVault:
    """Grants in the database, and valid access tokens out of them.

    Args:
        pool: the database.
        cipher: encrypts tokens at rest.
        oauth: spends refresh tokens.
        clock: wall clock (tests move a fake one).
        refresh_margin_s: refresh this long before the access token expires.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        cipher: TokenCipher,
        oauth: OAuthClient,
        clock: Callable[[], datetime],
        *,
        refresh_margin_s: float = 300.0,
    ) -> None:
        self._pool = pool
        self._cipher = cipher
        self._oauth = oauth
        self._clock = clock
        self._margin = timedelta(seconds=refresh_margin_s)
        self._locks: dict[int, asyncio.Lock] = {}
        self.refreshes = 0
        """Refresh tokens this vault has spent (observability and tests)."""

    # --- writing grants (inside the caller's transaction) ---------------------------------

    async def save_grant(
        self,
        conn: asyncpg.Connection,
        tokens: TokenSet,
        *,
        smartcar_user_id: str | None,
        scopes: Sequence[str] = (),
    ) -> int:
        """Store a Connect grant; return its id. A returning user's grant is replaced."""
        return await store.upsert_grant(
            conn,
            smartcar_user_id=smartcar_user_id,
            access_token=self._cipher.encrypt(tokens.access_token, "access_token"),
            refresh_token=self._cipher.encrypt(tokens.refresh_token, "refresh_token"),
            access_expires_at=tokens.expires_at,
            refresh_expires_at=tokens.refresh_expires_at,
            scopes=scopes,
            now=self._clock(),
        )

    async def link(self, conn: asyncpg.Connection, vehicle_id: str, grant_id: int) -> None:
        """The vehicle now uses this grant; a grant it leaves behind unused is deleted (a
        car that changed hands must not keep its old owner's tokens around)."""
        previous = await store.link_vehicle(conn, vehicle_id, grant_id)
        if previous is not None and previous != grant_id:
            await store.delete_grant_if_unused(conn, previous)

    async def forget(self, conn: asyncpg.Connection, vehicle_id: str) -> bool:
        """Delete the vehicle's link, and its grant once no vehicle uses it. True when
        the grant (the tokens) was deleted."""
        grant_id = await store.unlink_vehicle(conn, vehicle_id)
        return grant_id is not None and await store.delete_grant_if_unused(conn, grant_id)

    async def mark_reauth_required(self, vehicle_id: str, reason: str) -> None:
        async with self._pool.acquire() as conn:
            row = await store.grant_for_vehicle(conn, vehicle_id)
            if row is not None:
                await store.mark_reauth_required(conn, row["id"], reason, self._clock())

    # --- reading -----------------------------------------------------------------------------

    def _auth(self, row: Row) -> Auth:
        return Auth(
            self._cipher.decrypt(row["access_token"], "access_token"), row["smartcar_user_id"]
        )

    def _fresh(self, row: Row) -> bool:
        expires_at: datetime = row["access_expires_at"]
        return expires_at - self._margin > self._clock()

    async def _grant(self, vehicle_id: str) -> Row:
        async with self._pool.acquire() as conn:
            row = await store.grant_for_vehicle(conn, vehicle_id)
        if row is None:
            raise ReauthorizationRequired(f"vehicle {vehicle_id} has no Smartcar grant")
        if row["status"] != "active":
            raise ReauthorizationRequired(
                f"vehicle {vehicle_id} must be connected again: {row['status_reason']}",
                code="reauth_required",
            )
        return row

    async def auth(self, vehicle_id: str) -> Auth:
        """A valid access token for the vehicle, refreshed first if it is about to expire.

        Raises:
            ReauthorizationRequired: no grant, or the refresh token was refused.
        """
        row = await self._grant(vehicle_id)
        if self._fresh(row):
            return self._auth(row)
        return await self._refresh(row["id"], stale=None)

    async def refreshed(self, vehicle_id: str, stale: Auth) -> Auth:
        """After a 401 with ``stale``: a newer token if someone refreshed meanwhile, else a
        refreshed one."""
        row = await self._grant(vehicle_id)
        return await self._refresh(row["id"], stale=stale.access_token)

    async def _spend(self, row: Row, now: datetime) -> TokenSet:
        if row["refresh_expires_at"] <= now:
            raise InvalidGrant("the refresh token expired (60 days)")
        refresh_token = self._cipher.decrypt(row["refresh_token"], "refresh_token")
        self.refreshes += 1
        return await self._oauth.refresh(refresh_token)

    async def _refresh(self, grant_id: int, *, stale: str | None) -> Auth:
        lock = self._locks.setdefault(grant_id, asyncio.Lock())
        async with lock:
            refused: InvalidGrant | None = None
            async with self._pool.acquire() as conn, conn.transaction():
                row = await store.lock_grant(conn, grant_id)
                if row is None or row["status"] != "active":
                    raise ReauthorizationRequired("the grant is gone or needs Connect again")
                current = self._auth(row)
                # Someone else refreshed while we waited for the lock: use theirs.
                if stale is None and self._fresh(row):
                    return current
                if stale is not None and current.access_token != stale:
                    return current
                now = self._clock()
                try:
                    tokens = await self._spend(row, now)
                except InvalidGrant as exc:
                    # Commit the mark (do not roll it back with the exception).
                    await store.mark_reauth_required(conn, grant_id, str(exc), now)
                    refused = exc
                else:
                    await store.update_tokens(
                        conn,
                        grant_id,
                        access_token=self._cipher.encrypt(tokens.access_token, "access_token"),
                        refresh_token=self._cipher.encrypt(tokens.refresh_token, "refresh_token"),
                        access_expires_at=tokens.expires_at,
                        refresh_expires_at=tokens.refresh_expires_at,
                        now=now,
                    )
                    return Auth(tokens.access_token, row["smartcar_user_id"])
            raise ReauthorizationRequired(
                f"Smartcar refused the refresh token: {refused}", code="invalid_grant"
            ) from refused
