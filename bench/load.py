"""The load generator, run as its own process: a pool of async httpx clients posting JSON bodies.

    python -m bench.load SPEC.json OUT.json

SPEC: {"url", "headers", "bodies": [...], "cycle": bool, "concurrency", "duration", "warmup"}.
With cycle false every body is sent once (mutations on distinct rows). OUT holds the summary and,
per request, its index, wall-clock start and latency (for end-to-end measurements)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def summarize(latencies: list[float], elapsed: float, errors: int) -> dict:
    ordered = sorted(latencies)
    return {
        "requests": len(latencies), "errors": errors, "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(ordered, 50) * 1000, 2), "p95_ms": round(percentile(ordered, 95) * 1000, 2),
        "p99_ms": round(percentile(ordered, 99) * 1000, 2),
    }


async def run(spec: dict) -> dict:
    bodies = [json.dumps(b).encode() for b in spec["bodies"]]
    concurrency, cycle = int(spec["concurrency"]), bool(spec.get("cycle", True))
    headers = {"content-type": "application/json", **spec.get("headers", {})}
    shown: list[int] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        async def one(i: int) -> tuple[float, float, bool]:
            wall, t0 = time.time(), time.perf_counter()
            response = await client.post(spec["url"], content=bodies[i % len(bodies)])
            latency = time.perf_counter() - t0
            ok = response.status_code == 200 and b'"errors":[{' not in response.content \
                and b'"errors": [{' not in response.content
            if not ok:
                shown.append(1)
                if len(shown) <= 3:
                    print(f"error {response.status_code}: {response.content[:300]!r}", file=sys.stderr)
            return wall, latency, ok

        warmup_until = time.perf_counter() + float(spec.get("warmup", 0))
        while cycle and time.perf_counter() < warmup_until:
            await asyncio.gather(*(one(i) for i in range(concurrency)))
        counter = iter(range(10**9))
        records: list[tuple[int, float, float, bool]] = []
        deadline = time.perf_counter() + float(spec.get("duration", 10))

        async def worker() -> None:
            for i in counter:
                if (not cycle and i >= len(bodies)) or (cycle and time.perf_counter() >= deadline):
                    return
                wall, latency, ok = await one(i)
                records.append((i, wall, latency, ok))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    result = summarize([r[2] for r in records], elapsed, sum(1 for r in records if not r[3]))
    result["concurrency"] = concurrency
    if spec.get("keep_requests"):
        result["per_request"] = [{"index": i, "start": w, "latency": lat, "ok": ok} for i, w, lat, ok in records]
    return result


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(run(spec))
    with open(sys.argv[2], "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
