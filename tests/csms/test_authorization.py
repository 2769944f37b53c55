from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csms.authorization import decide
from csms.events import AuthorizationStatus

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def token(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "status": "Accepted",
        "expiry": None,
        "parent_id_token": None,
        "account_id": None,
        "account_status": None,
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (None, AuthorizationStatus.INVALID),
        (token(), AuthorizationStatus.ACCEPTED),
        (token(status="Blocked"), AuthorizationStatus.BLOCKED),
        (token(expiry=NOW - timedelta(seconds=1)), AuthorizationStatus.EXPIRED),
        (token(expiry=NOW + timedelta(days=1)), AuthorizationStatus.ACCEPTED),
        (token(account_id=1, account_status="suspended"), AuthorizationStatus.BLOCKED),
        (token(account_id=1, account_status="active"), AuthorizationStatus.ACCEPTED),
    ],
)
def test_decide(row: dict[str, Any] | None, expected: AuthorizationStatus) -> None:
    assert decide(row, NOW).status is expected
