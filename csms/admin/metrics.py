"""Prometheus metrics of the admin API, exposed in the text format (0.0.4) by hand."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from aiohttp import web

__all__ = ["CONTENT_TYPE", "METRICS", "HttpMetrics", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class HttpMetrics:
    """Request counts and durations by method, route template and status."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.seconds: defaultdict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, str(status))] += 1
        self.seconds[(method, route)] += seconds


METRICS = web.AppKey("csms_admin_metrics", HttpMetrics)


def _family(name: str, kind: str, help_text: str, samples: list[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def exposition(http: HttpMetrics, *, connected_charge_points: int) -> str:
    """The metrics page."""
    lines = _family(
        "csms_connected_charge_points",
        "gauge",
        "Chargers with a live OCPP connection to this process.",
        [f"csms_connected_charge_points {connected_charge_points}"],
    )
    lines += _family(
        "csms_http_requests_total",
        "counter",
        "Admin API requests answered.",
        [
            "csms_http_requests_total"
            f"{_labels((('method', m), ('route', r), ('status', s)))} {count}"
            for (m, r, s), count in sorted(http.requests.items())
        ],
    )
    counts: Counter[tuple[str, str]] = Counter()
    for (method, route, _), count in http.requests.items():
        counts[(method, route)] += count
    duration: list[str] = []
    for key in sorted(counts):
        labels = _labels((("method", key[0]), ("route", key[1])))
        duration.append(
            f"csms_http_request_duration_seconds_sum{labels} {_number(http.seconds[key])}"
        )
        duration.append(f"csms_http_request_duration_seconds_count{labels} {counts[key]}")
    lines += _family(
        "csms_http_request_duration_seconds",
        "summary",
        "Time spent answering admin API requests.",
        duration,
    )
    return "\n".join(lines) + "\n"
