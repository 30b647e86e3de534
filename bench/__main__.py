"""`python -m bench [--sizes 10000,100000,1000000] [--levels 1,10,50] [--duration 8] [--scenarios …] [--quick]`

Generates (or reuses) crm_bench_<size> on PostgreSQL, starts real uvicorn processes, the baseline
app and a `crm worker`, and prints the results as Markdown tables (JSON in bench/results/)."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import sys


def claim_redis_db() -> str:
    """A Redis database of our own, claimed the way the test suite claims them."""
    import redis

    server = os.environ.get("BENCH_REDIS_SERVER", "redis://127.0.0.1:6379")
    admin = redis.Redis.from_url(f"{server}/0")
    for db in range(15, 0, -1):
        if admin.set(f"crm-test:redis-db:{db}", f"bench-{os.getpid()}", nx=True, ex=7200):
            redis.Redis.from_url(f"{server}/{db}").flushdb()
            atexit.register(admin.delete, f"crm-test:redis-db:{db}")
            return f"{server}/{db}"
    sys.exit("no free Redis database (all 15 claimed)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--quick", action="store_true", help="~200 deals, every scenario once, no timing")
    parser.add_argument("--scenarios", default=None,
                        help="comma list of queries,worker,list,detail,apollo,advance,optional,subscription (default all)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the databases")
    args = parser.parse_args()

    redis_url = claim_redis_db()
    env = {**os.environ, "ENVIRONMENT": "production", "SECRET_KEY": "bench-secret-key-long-enough-for-hs256-signing",
           "REDIS_URL": redis_url, "EVENTS_CHANNEL": f"crm:events:bench:{redis_url.rsplit('/', 1)[-1]}",
           "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "false",
           "TOKEN_TTL_MINUTES": "720",  # tokens issued directly must outlast the run
           # One benchmark user sends hundreds of requests a second: the budget is consulted (its Redis round
           # trip is measured) but made too large to refuse them.
           "COST_BUDGET_CAPACITY": str(10**12), "COST_BUDGET_REFILL_PER_SECOND": str(10**12)}
    os.environ.update(env)  # before any app import: settings are read once

    from bench.database import ensure_database
    from bench import report, run

    async def go() -> list[dict]:
        if args.quick:
            url = await ensure_database(200, fresh=args.fresh)
            result = await run.quick(url, env)
            result["size"] = 200
            return [result]
        results = []
        for n in (int(s) for s in args.sizes.split(",")):
            url = await ensure_database(n, fresh=args.fresh)
            print(f"== {n} opportunities ({url.rsplit('/', 1)[1]})", flush=True)
            results.append(await run.bench_size(n, url, env, levels=[int(x) for x in args.levels.split(",")],
                                                duration=args.duration,
                                                scenarios=set(args.scenarios.split(",")) if args.scenarios else None))
        return results

    results = asyncio.run(go())
    print(report.markdown(results))
    if args.quick:
        print("quick mode: every scenario ran")


if __name__ == "__main__":
    main()
