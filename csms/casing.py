"""camelCase <-> snake_case for OCPP payload keys, computed once per key.

The ``ocpp`` library converts every key of every message with regular expressions. The
set of keys in OCPP is small and fixed, so each key is converted once, by the library's own
rules (special cases such as ``SoC``, ``V2X`` and ``CSMS`` included), and remembered.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case

__all__ = ["to_camel", "to_snake"]


@cache
def _snake_key(key: str) -> str:
    converted: str = next(iter(camel_to_snake_case({key: None})))
    return converted


@cache
def _camel_key(key: str) -> str:
    converted: str = next(iter(snake_to_camel_case({key: None})))
    return converted


def to_snake(data: Any) -> Any:
    """A payload with snake_case keys (values untouched), at any depth."""
    if isinstance(data, dict):
        return {_snake_key(k): to_snake(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_snake(v) for v in data]
    return data


def to_camel(data: Any) -> Any:
    """A payload with OCPP's camelCase keys, at any depth."""
    if isinstance(data, dict):
        return {_camel_key(k): to_camel(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_camel(v) for v in data]
    return data
