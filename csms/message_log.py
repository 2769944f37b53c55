"""The frame log: every frame in and out, written in batches off the reply path.

``record`` only appends to an in-memory buffer; a flusher task writes the buffer with COPY
every few milliseconds and moves ``last_seen_at`` of the chargers that spoke. The log is an
audit trail, not the system of record: session data is committed before each reply by the
services, so a crash loses at most the last few milliseconds of log lines.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import asyncpg

from csms.clock import Clock
from csms.logs import get_logger
from csms.store import charge_points
from csms.store import message_log as store
from csms.store.message_log import LoggedFrame

__all__ = ["Described", "FrameLog"]

log = get_logger(__name__)


# Message type, unique id and action of a frame, as far as they could be read.
Described = tuple[int | None, str | None, str | None]


def _describe(frame: str) -> Described:
    """Message type, unique id and action of a frame, as far as they can be read."""
    try:
        parsed = json.loads(frame)
    except ValueError:
        return None, None, None
    if not isinstance(parsed, list) or not parsed:
        return None, None, None
    message_type = parsed[0] if isinstance(parsed[0], int) else None
    unique_id = parsed[1] if len(parsed) > 1 and isinstance(parsed[1], str) else None
    action = (
        parsed[2] if message_type == 2 and len(parsed) > 2 and isinstance(parsed[2], str) else None
    )
    return message_type, unique_id, action


class FrameLog:
    def __init__(
        self, pool: asyncpg.Pool, clock: Clock, *, flush_ms: int = 50, max_frame_chars: int = 65536
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._interval = flush_ms / 1000
        self._max = max_frame_chars
        self._buffer: list[LoggedFrame] = []
        self._wake = asyncio.Event()

    def record(
        self, charge_point_id: str, direction: str, frame: str, described: Described | None = None
    ) -> None:
        """Buffer a frame; pass ``described`` when the caller parsed it already."""
        message_type, unique_id, action = described or _describe(frame)
        truncated = len(frame) > self._max
        self._buffer.append(
            LoggedFrame(
                charge_point_id,
                direction,
                message_type,
                unique_id,
                action,
                frame[: self._max],
                truncated,
                self._clock(),
            )
        )

    async def flush(self) -> None:
        if not self._buffer:
            return
        frames, self._buffer = self._buffer, []
        seen: dict[str, datetime] = {}
        for frame in frames:
            if frame.direction == "in":
                seen[frame.charge_point_id] = frame.logged_at
        try:
            async with self._pool.acquire() as conn:
                await store.append(conn, frames)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            # Put them back in front: the next flush tries again.
            self._buffer[:0] = frames
            log.warning("message_log_flush_failed", error=str(exc), pending=len(self._buffer))
            return
        if seen:
            try:
                async with self._pool.acquire() as conn:
                    await charge_points.touch(conn, seen)
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
                log.warning("last_seen_update_failed", error=str(exc))

    async def run(self) -> None:
        """Flush periodically until cancelled; the final flush happens in ``close``."""
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def close(self) -> None:
        await self.flush()
