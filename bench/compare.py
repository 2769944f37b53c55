"""Side by side in one run: our server (everything persisted), the bare ``ocpp``-library
baseline (persists nothing) and a raw websockets echo (the ceiling). Prints a table with
the median of several runs and the ratios that matter.

    python bench/compare.py --chargers 1000 --mix meter --duration 10 --runs 3
    python bench/compare.py --chargers 1000 --mix meter --rate 1 --duration 20   # paced
    python bench/compare.py --protocol ocpp2.0.1 --targets ours,baseline

Loopback only, bounded in time. The client runs in this process and shares the machine's
cores with the servers, as it would in any single-machine measurement: compare ratios
measured in the same run, not absolute figures across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import MIXES, LoadSpec, run_load
from bench.servers import (
    PASSWORD,
    Database,
    raise_open_file_limit,
    start_ours,
    start_script,
)

SAMPLES_PER_METER_VALUE = 6


@dataclass
class Figures:
    rps: float
    p50: float
    p90: float
    p99: float
    failed: int
    cpu_ms_per_rt: float
    db_ms_per_rt: float
    rss_kib_per_conn: float
    persisted: str


def run_target(name: str, spec: LoadSpec, database: Database | None, workers: int) -> Figures:
    ids = [f"{spec.id_prefix}-{i:05d}" for i in range(spec.chargers)]
    if name == "ours":
        assert database is not None
        asyncio.run(database.prepare(ids))
        server = start_ours(database, workers=workers)
    else:
        server = start_script(name, "baseline_ocpp.py" if name == "baseline" else "echo_server.py")
    try:
        idle_rss = server.rss_bytes()
        run_spec = LoadSpec(
            **{**spec.__dict__, "url": server.url, "password": PASSWORD if name == "ours" else None}
        )
        marks: dict[str, float] = {}
        rss_loaded = 0

        def on_window(edge: str) -> None:
            nonlocal rss_loaded
            marks[edge] = server.cpu_seconds()
            marks[f"db-{edge}"] = server.cpu_seconds(database_only=True)
            if edge == "start":
                rss_loaded = server.rss_bytes()

        result = asyncio.run(run_load(run_spec, on_window))
        cpu = marks.get("end", 0.0) - marks.get("start", 0.0)
        db_cpu = marks.get("db-end", 0.0) - marks.get("db-start", 0.0)
        persisted = "-"
        if name == "ours" and spec.mix == "meter":
            assert database is not None
            if spec.protocol == "ocpp1.6":
                rows = asyncio.run(
                    database.count(
                        "SELECT count(*) FROM meter_samples WHERE context = 'Sample.Periodic'"
                    )
                )
                expected = len(result.acked) * SAMPLES_PER_METER_VALUE
            else:
                rows = asyncio.run(
                    database.count(
                        "SELECT count(*) FROM transaction_events WHERE event_type = 'Updated'"
                    )
                )
                expected = len(result.acked)
            persisted = "all" if rows >= expected else f"{rows}/{expected}"
    finally:
        server.stop()
    connections = max(1, result.connected)
    return Figures(
        rps=result.rps,
        p50=result.percentile(50),
        p90=result.percentile(90),
        p99=result.percentile(99),
        failed=result.failed,
        cpu_ms_per_rt=cpu * 1000 / result.ok if result.ok else float("nan"),
        db_ms_per_rt=db_cpu * 1000 / result.ok if result.ok else float("nan"),
        rss_kib_per_conn=max(0, rss_loaded - idle_rss) / 1024 / connections,
        persisted=persisted,
    )


def _median(runs: list[Figures]) -> Figures:
    def med(attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in runs))

    return Figures(
        rps=med("rps"),
        p50=med("p50"),
        p90=med("p90"),
        p99=med("p99"),
        failed=sum(r.failed for r in runs),
        cpu_ms_per_rt=med("cpu_ms_per_rt"),
        db_ms_per_rt=med("db_ms_per_rt"),
        rss_kib_per_conn=med("rss_kib_per_conn"),
        persisted=",".join(sorted({r.persisted for r in runs})),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", default="echo,baseline,ours")
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--protocol", choices=["ocpp1.6", "ocpp2.0.1"], default="ocpp1.6")
    parser.add_argument("--mix", choices=MIXES, default="meter")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="messages per second per charger (default: closed loop)",
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="our server's processes")
    args = parser.parse_args()
    raise_open_file_limit()
    spec = LoadSpec(
        url="",
        protocol=args.protocol,
        chargers=args.chargers,
        mix=args.mix,
        rate_per_charger=args.rate,
        duration_s=args.duration,
        warmup_s=args.warmup,
    )
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    database = Database() if "ours" in targets else None
    results: dict[str, Figures] = {}
    try:
        for target in targets:
            runs = [run_target(target, spec, database, args.workers) for _ in range(args.runs)]
            results[target] = _median(runs)
            print(f"  {target}: done ({args.runs} runs)", file=sys.stderr, flush=True)
    finally:
        if database is not None:
            database.close()
    mode = f"paced {args.rate:g}/s per charger" if args.rate else "closed loop"
    print(
        f"\n{args.chargers} chargers, {args.protocol}, mix={args.mix}, {mode}, "
        f"{args.duration:g} s measured, median of {args.runs} runs\n"
    )
    header = (
        f"{'target':<10}{'rt/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'failed':>8}{'cpu ms/rt':>11}{'of it db':>10}{'KiB/conn':>10}  persisted"
    )
    print(header)
    print("-" * len(header))
    for name, f in results.items():
        print(
            f"{name:<10}{f.rps:>10.0f}{f.p50:>9.2f}{f.p90:>9.2f}{f.p99:>9.2f}{f.failed:>8}"
            f"{f.cpu_ms_per_rt:>11.3f}{f.db_ms_per_rt:>10.3f}{f.rss_kib_per_conn:>10.1f}"
            f"  {f.persisted}"
        )
    if "ours" in results:
        print()
        for other in ("baseline", "echo"):
            if other in results and results[other].rps:
                print(
                    f"ours / {other}: {results['ours'].rps / results[other].rps:.2f}x "
                    "round trips per second"
                )


if __name__ == "__main__":
    main()
