"""Schema validation of OCPP payloads with compiled validators, inline on the hot path.

The official JSON schemas of each version (as shipped in the ``ocpp`` package) are
compiled once per action into Python functions by ``fastjsonschema``: about thirty times
faster than interpreting them with ``jsonschema``, so validation runs in the event loop
instead of a thread pool. ``date-time`` is checked with our own timestamp parser, which
accepts the offset-less form some chargers send (read as UTC) and rejects what is not a
time at all. Per-charger relaxations (vendor quirks) can later pick another compiled set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from csms.translate import parse_timestamp

__all__ = ["SchemaViolation", "validator", "warm_up"]

Validator = Callable[[Any], Any]

_SCHEMA_DIRS = {"1.6": "v16", "2.0.1": "v201"}


class SchemaViolation(Exception):
    """A payload broke its schema: the JSON-schema keyword that failed and where."""

    def __init__(self, keyword: str, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.keyword = keyword
        self.where = where


def _is_timestamp(value: str) -> bool:
    try:
        parse_timestamp(value)
    except ValueError:
        return False
    return True


def _schema_name(version: str, action: str, response: bool) -> str:
    if version == "1.6":
        return f"{action}Response" if response else action
    return f"{action}{'Response' if response else 'Request'}"


@cache
def validator(version: str, action: str, *, response: bool = False) -> Validator | None:
    """The compiled validator of one message, or None when the version has no schema."""
    folder = resources.files("ocpp") / _SCHEMA_DIRS[version] / "schemas"
    path = folder / f"{_schema_name(version, action, response)}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    compiled = fastjsonschema.compile(schema, formats={"date-time": _is_timestamp, "uri": r".*"})

    def validate(payload: Any) -> Any:
        try:
            return compiled(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            where = (exc.name or "data").removeprefix("data").lstrip(".") or "(payload)"
            raise SchemaViolation(exc.rule or "", where, exc.message) from exc

    return validate


def warm_up(version: str, actions: Iterable[str]) -> int:
    """Compile the request and response validators of these actions now (at start-up), so
    no schema is read from disk on the message path; return how many were compiled."""
    return sum(
        1
        for action in actions
        for response in (False, True)
        if validator(version, action, response=response) is not None
    )
