"""Markdown tables from bench results (bench/results/<size>.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else (f"{n // 1000}k" if n >= 1000 else str(n))


_LATENCY_SCENARIOS = (("list (100)", "opportunities_page"),
                      ("list (100) without totalCount", "opportunities_page_no_count"),
                      ("detail", "opportunity_detail"),
                      ("advanceOpportunity", "advance_opportunity"))
_QUERY_COUNT_KEYS = {"opportunities_page": ("list_page_100", "baseline_list"),
                     "opportunities_page_no_count": ("list_page_100_no_count", "baseline_list_no_count"),
                     "opportunity_detail": ("detail", "baseline_detail"),
                     "advance_opportunity": ("advance", "baseline_advance")}
_APOLLO_SCENARIOS = (("list (100)", "opportunities_page_apollo", "list_page_100"),
                     ("detail", "opportunity_detail_apollo", "detail"))


def _variants(r: dict, row: dict, key: str, queries: int | None) -> list[tuple]:
    """(side, label, ratio, queries per request, RSS key) for each measured variant of one row."""
    qpr, sq = r.get("queries_per_request", {}), r.get("standard_queries_per_request", {})
    detail_or_list = "list_page_100" if key == "opportunities_page" else "detail"
    variants = [("graphql", "", row.get("ratio"), queries, "api_peak_rss_mb")]
    if key == "advance_opportunity":
        return [("graphql", "", row["ratio"], queries, "api_peak_rss_mb")] if "cold" in row else variants
    if "cold" in row:  # the API as deployed is then the warm (read cache) figure
        variants = [("cold", ", cold (no read cache)", row["cold_ratio"], queries, "cold_peak_rss_mb"),
                    ("graphql", ", warm (read cache)", row["ratio"],
                     qpr.get("list_page_100_warm" if key == "opportunities_page" else "detail_warm"), "api_peak_rss_mb")]
    if "standard" in row:
        label = ", standard execution" if "cold" in row else ", fast path off"
        variants.append(("standard", label, row["standard_ratio"], sq.get(detail_or_list), "standard_peak_rss_mb"))
    return variants


def _latency_table(results: list[dict]) -> list[str]:
    out = ["| size | scenario | c | GraphQL req/s | p50 / p95 / p99 ms | baseline req/s | baseline p50 / p99 ms "
           "| ratio | queries/req (GraphQL / baseline) | API peak RSS MB |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        qpr = r.get("queries_per_request", {})
        for name, key in _LATENCY_SCENARIOS:
            ours, baseline = (qpr.get(k) for k in _QUERY_COUNT_KEYS[key])
            for row in r["scenarios"].get(key, []):
                b = row["baseline"]
                for side, label, ratio, queries, rss in _variants(r, row, key, ours):
                    g = row[side]
                    out.append(f"| {_size(r['size'])} | {name}{label} | {row['concurrency']} | {g['rps']} | {g['p50_ms']} / "
                               f"{g['p95_ms']} / {g['p99_ms']} | {b['rps']} | {b['p50_ms']} / {b['p99_ms']} | {ratio} "
                               f"| {queries} / {baseline} | {row[rss]} |")
    return out


def _apollo_table(results: list[dict]) -> list[str]:
    """Plain documents against the same reads as Apollo Client sends them, interleaved (bench/run.py)."""
    out = ["| size | document | c | API | plain req/s | plain p50 ms | Apollo-shaped req/s | Apollo-shaped p50 ms "
           "| req/s ratio | p50 ratio | statements (plain / Apollo) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        qpr = r.get("queries_per_request", {})
        for name, key, count in _APOLLO_SCENARIOS:
            for row in r["scenarios"].get(key, []):
                for server in ("warm", "cold", "warm gzip", "cold gzip"):
                    if f"{server}_plain" not in row:
                        continue
                    p, a = row[f"{server}_plain"], row[f"{server}_apollo"]
                    p50 = round(a["p50_ms"] / p["p50_ms"], 3) if p["p50_ms"] else None
                    out.append(f"| {_size(r['size'])} | {name} | {row['concurrency']} | {server} | {p['rps']} | "
                               f"{p['p50_ms']} | {a['rps']} | {a['p50_ms']} | {row[f'{server}_ratio']} | {p50} | "
                               f"{qpr.get(count)} / {qpr.get(count + '_apollo')} |")
    return out if len(out) > 2 else []


def _other_table(results: list[dict]) -> list[str]:
    out = ["| size | scenario | c | req/s | p50 / p95 / p99 ms | notes |", "|---|---|---|---|---|---|"]
    for r in results:
        s, size = r["scenarios"], _size(r["size"])
        for row in s.get("advance_opportunity", []):
            g, b = row["graphql"], row["baseline"]
            out.append(f"| {size} | advance → Task (end-to-end) | {row['concurrency']} | | "
                       f"{g['e2e_p50_ms']} / {g['e2e_p95_ms']} / – | baseline {b['e2e_p50_ms']} / {b['e2e_p95_ms']}; "
                       f"missing tasks {g['tasks_missing']} |")
        for key in ("record_interaction", "pipeline_report", "sales_forecast"):
            for row in s.get(key, []):
                out.append(f"| {size} | {key} | {row['concurrency']} | {row['rps']} | {row['p50_ms']} / "
                           f"{row['p95_ms']} / {row['p99_ms']} | errors {row['errors']} |")
        for key in ("worker", "worker_2_processes", "worker_max_jobs_100_poll_50ms"):
            if key in s:
                w = s[key]
                out.append(f"| {size} | {key.replace('_', ' ')} automations | – | "
                           f"{w['automations_per_second']}/s | | {w['automations']} of {w['queued']} in {w['seconds']} s |")
        for row in s.get("search", []):
            out.append(f"| {size} | search as {row['role']}: {row['label']} `{row['term']}` | 1 | {row['rps']} | "
                       f"{row['p50_ms']} / {row['p95_ms']} / {row['p99_ms']} | {row['hits']} hits, errors {row['errors']} |")
        if "subscription_fanout" in s:
            f = s["subscription_fanout"]
            out.append(f"| {size} | subscription B→A | 1 | | {f['p50_ms']} / {f['p95_ms']} / max "
                       f"{f['max_ms']} | {f['events']} events |")
        out += [f"| {size} | note | | | | {note} |" for note in r.get("notes", [])]
    return out


def _profiles(results: list[dict]) -> list[str]:
    out = []
    for r in results:
        for prefix, label in (("", "fast path on"), ("standard_", "fast path off")):
            if prefix + "profile" in r:
                p = r[prefix + "profile"]
                out += ["", f"Profile of the list page in-process at {_size(r['size'])} ({label}): "
                            f"{p['wall_ms_per_request_under_profile']} ms/request under cProfile; own time by package "
                            f"(ms/request): {p['by_package_ms']}"]
    return out


def markdown(results: list[dict]) -> str:
    apollo = _apollo_table(results)
    return "\n".join(_latency_table(results) + [""] + ([*apollo, ""] if apollo else []) + _other_table(results)
                     + _profiles(results))


if __name__ == "__main__":  # python -m bench.report bench/results/*.json
    print(markdown([json.loads(Path(p).read_text()) for p in sys.argv[1:]]))
