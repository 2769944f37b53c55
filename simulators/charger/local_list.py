"""The local authorisation list of the simulated charger, the same in both versions.

A Full update replaces the list; a Differential one adds or replaces the entries that
carry token info and removes those without, and is answered VersionMismatch unless its
version is above the one held. The version starts at 0 (no list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LocalList:
    version: int = 0
    # id tag / id token -> its idTagInfo / idTokenInfo (snake_case, as received)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def update(
        self, version: int, update_type: str, entries: list[tuple[str, dict[str, Any] | None]]
    ) -> str:
        """Apply a SendLocalList; the status to answer."""
        if update_type == "Differential" and version <= self.version:
            return "VersionMismatch"
        if update_type == "Full":
            self.entries = {token: info for token, info in entries if info is not None}
        else:
            for token, info in entries:
                if info is None:
                    self.entries.pop(token, None)
                else:
                    self.entries[token] = info
        self.version = version
        return "Accepted"
