"""Connection scale: how many chargers stay connected and heartbeating, and how much server
memory each connection costs.

    python bench/scale.py --chargers 20000 --heartbeat 30 --duration 60

Every charger connects (HTTP Basic auth, subprotocol), boots, then sends a Heartbeat every
``--heartbeat`` seconds (spread evenly) for ``--duration`` seconds. Reported: connections
held at the end, heartbeat round trips and failures with latency percentiles, and the
server's resident memory per connection (RSS with all chargers connected minus RSS before
the first, divided by the connections). Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.loadgen import LoadResult as _Result
from bench.loadgen import LoadSpec, _Charger
from bench.servers import PASSWORD, Database, raise_open_file_limit, start_ours


async def _connect_all(chargers: list[_Charger], concurrency: int, reasons: Counter[str]) -> int:
    gate = asyncio.Semaphore(concurrency)

    async def one(charger: _Charger) -> bool:
        async with gate:
            try:
                await charger.open()
                await charger.prepare()
            except Exception as exc:  # counted, with its reason
                reasons[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
                return False
            return True

    outcomes = await asyncio.gather(*(one(c) for c in chargers))
    return sum(outcomes)


async def _heartbeats(
    chargers: list[_Charger],
    interval: float,
    duration: float,
    latencies: list[float],
    failures: list[int],
) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + duration

    async def beat(charger: _Charger, offset: float) -> None:
        await asyncio.sleep(offset)
        while loop.time() < end:
            sent = time.perf_counter()
            try:
                await charger.call("Heartbeat", {})
            except Exception:
                failures[0] += 1
                return
            latencies.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(interval)

    count = max(1, len(chargers))
    await asyncio.gather(*(beat(c, interval * i / count) for i, c in enumerate(chargers)))


def _client_part(
    url: str,
    protocol: str,
    first: int,
    count: int,
    heartbeat: float,
    duration: float,
    concurrency: int,
) -> dict[str, object]:
    """One client process: connect its share of the chargers, heartbeat, report."""
    raise_open_file_limit()
    spec = LoadSpec(
        url=url,
        protocol=protocol,
        chargers=count,
        mix="heartbeat",
        password=PASSWORD,
        id_prefix="SCALE",
    )
    result = _Result()
    chargers = [_Charger(spec, first + i, result) for i in range(count)]

    async def run() -> dict[str, object]:
        started = time.perf_counter()
        reasons: Counter[str] = Counter()
        connected = await _connect_all(chargers, concurrency, reasons)
        connect_s = time.perf_counter() - started
        live = [c for c in chargers if c.ws is not None and c.ws.state.name == "OPEN"]
        latencies: list[float] = []
        failures = [0]
        await _heartbeats(live, heartbeat, duration, latencies, failures)
        held = sum(1 for c in live if c.ws is not None and c.ws.state.name == "OPEN")
        await asyncio.gather(
            *(c.ws.close() for c in live if c.ws is not None), return_exceptions=True
        )
        return {
            "connected": connected,
            "held": held,
            "connect_s": connect_s,
            "latencies": latencies,
            "failed": failures[0],
            "reasons": dict(reasons),
        }

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chargers", type=int, default=20_000)
    parser.add_argument("--protocol", choices=["ocpp1.6", "ocpp2.0.1"], default="ocpp1.6")
    parser.add_argument("--heartbeat", type=float, default=30.0, help="seconds between beats")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=500, help="handshakes at once")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes (default: enough for the descriptor limit)",
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=None,
        help="client processes (default: enough for the descriptor limit)",
    )
    args = parser.parse_args()
    limit = raise_open_file_limit()
    # Every connection is a descriptor on both sides; stay well under the per-process limit.
    needed = max(1, -(-args.chargers // max(1, limit - 2_000)))
    workers = args.workers or needed
    client_procs = args.client_procs or needed
    database = Database()
    try:
        asyncio.run(database.prepare([f"SCALE-{i:05d}" for i in range(args.chargers)]))
        server = start_ours(database, workers=workers)
        try:
            time.sleep(2)  # let every worker finish starting
            idle = server.rss_bytes()
            shares = [
                args.chargers // client_procs + (i < args.chargers % client_procs)
                for i in range(client_procs)
            ]
            firsts = [sum(shares[:i]) for i in range(client_procs)]
            peak = idle
            with ProcessPoolExecutor(client_procs, mp_context=get_context("spawn")) as pool:
                futures = [
                    pool.submit(
                        _client_part,
                        server.url,
                        args.protocol,
                        first,
                        share,
                        args.heartbeat,
                        args.duration,
                        args.concurrency,
                    )
                    for first, share in zip(firsts, shares, strict=True)
                ]
                while not all(f.done() for f in futures):
                    time.sleep(1)
                    peak = max(peak, server.rss_bytes())
                parts = [f.result() for f in futures]
        finally:
            server.stop()
    finally:
        database.close()
    connected = sum(int(p["connected"]) for p in parts)  # type: ignore[call-overload]
    held = sum(int(p["held"]) for p in parts)  # type: ignore[call-overload]
    failed = sum(int(p["failed"]) for p in parts)  # type: ignore[call-overload]
    connect_s = max(float(p["connect_s"]) for p in parts)  # type: ignore[arg-type]
    latencies = sorted(x for p in parts for x in p["latencies"])  # type: ignore[attr-defined]

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q / 100 * len(latencies)))]
            if latencies
            else float("nan")
        )

    per_conn = (peak - idle) / 1024 / max(1, held)
    reasons: Counter[str] = Counter()
    for part in parts:
        reasons.update(part["reasons"])  # type: ignore[arg-type]
    print(
        f"\nconnection scale: {args.chargers} chargers ({args.protocol}), heartbeat every "
        f"{args.heartbeat:g} s for {args.duration:g} s; server: {workers} process(es), "
        f"client: {client_procs} process(es); descriptor limit per process {limit}\n"
    )
    print(
        f"{'connected':>10}{'held':>8}{'connect s':>11}{'beats':>8}{'failed':>8}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'RSS idle MiB':>14}{'RSS peak MiB':>14}{'KiB/conn':>10}"
    )
    print(
        f"{connected:>10}{held:>8}{connect_s:>11.1f}{len(latencies):>8}{failed:>8}"
        f"{pct(50):>9.2f}{pct(99):>9.2f}{idle / 2**20:>14.1f}{peak / 2**20:>14.1f}"
        f"{per_conn:>10.1f}"
    )
    for reason, count in reasons.most_common(5):
        print(f"  not connected: {count} x {reason}")


if __name__ == "__main__":
    main()
