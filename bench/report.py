"""Markdown tables from bench results (bench/results/<size>.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else (f"{n // 1000}k" if n >= 1000 else str(n))


def markdown(results: list[dict]) -> str:
    out = ["| size | scenario | c | GraphQL req/s | p50 / p95 / p99 ms | baseline req/s | baseline p50 / p99 ms "
           "| ratio | queries/req (GraphQL / baseline) | API peak RSS MB |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        qpr = r.get("queries_per_request", {})
        for name, key in (("list (100)", "opportunities_page"),
                          ("list (100) without totalCount", "opportunities_page_no_count"),
                          ("detail", "opportunity_detail"),
                          ("advanceOpportunity", "advance_opportunity")):
            qcount = {"opportunities_page": (qpr.get("list_page_100"), qpr.get("baseline_list")),
                      "opportunities_page_no_count": (qpr.get("list_page_100_no_count"),
                                                      qpr.get("baseline_list_no_count")),
                      "opportunity_detail": (qpr.get("detail"), qpr.get("baseline_detail")),
                      "advance_opportunity": (qpr.get("advance"), qpr.get("baseline_advance"))}[key]
            for row in r["scenarios"].get(key, []):
                b = row["baseline"]
                variants = [("graphql", "", row.get("ratio"), qcount[0], "api_peak_rss_mb")]
                if "cold" in row:  # the API as deployed is then the warm (read cache) figure
                    sq = r.get("standard_queries_per_request", {})
                    variants = [("cold", ", cold (no read cache)", row["cold_ratio"], qcount[0], "cold_peak_rss_mb"),
                                ("graphql", ", warm (read cache)", row["ratio"],
                                 qpr.get("list_page_100_warm" if key == "opportunities_page" else "detail_warm"),
                                 "api_peak_rss_mb")]
                    if "standard" in row:
                        variants.append(("standard", ", standard execution", row["standard_ratio"],
                                         sq.get("list_page_100" if key == "opportunities_page" else "detail"),
                                         "standard_peak_rss_mb"))
                elif "standard" in row:
                    sq = r.get("standard_queries_per_request", {})
                    variants.append(("standard", ", fast path off", row["standard_ratio"],
                                     sq.get("list_page_100" if key == "opportunities_page" else "detail"),
                                     "standard_peak_rss_mb"))
                if key == "advance_opportunity":
                    variants = variants[:1] if "cold" not in row else [("graphql", "", row["ratio"], qcount[0], "api_peak_rss_mb")]
                for side, label, ratio, queries, rss in variants:
                    g = row[side]
                    out.append(f"| {_size(r['size'])} | {name}{label} | {row['concurrency']} | {g['rps']} | {g['p50_ms']} / "
                               f"{g['p95_ms']} / {g['p99_ms']} | {b['rps']} | {b['p50_ms']} / {b['p99_ms']} | {ratio} "
                               f"| {queries} / {qcount[1]} | {row[rss]} |")
    out += ["", "| size | scenario | c | req/s | p50 / p95 / p99 ms | notes |", "|---|---|---|---|---|---|"]
    for r in results:
        s = r["scenarios"]
        for row in s.get("advance_opportunity", []):
            g, b = row["graphql"], row["baseline"]
            out.append(f"| {_size(r['size'])} | advance → Task (end-to-end) | {row['concurrency']} | | "
                       f"{g['e2e_p50_ms']} / {g['e2e_p95_ms']} / – | baseline {b['e2e_p50_ms']} / {b['e2e_p95_ms']}; "
                       f"missing tasks {g['tasks_missing']} |")
        for key in ("record_interaction", "pipeline_report", "sales_forecast"):
            for row in s.get(key, []):
                out.append(f"| {_size(r['size'])} | {key} | {row['concurrency']} | {row['rps']} | {row['p50_ms']} / "
                           f"{row['p95_ms']} / {row['p99_ms']} | errors {row['errors']} |")
        for key in ("worker", "worker_2_processes", "worker_max_jobs_100_poll_50ms"):
            if key in s:
                w = s[key]
                out.append(f"| {_size(r['size'])} | {key.replace('_', ' ')} automations | – | "
                           f"{w['automations_per_second']}/s | | {w['automations']} of {w['queued']} in {w['seconds']} s |")
        if "subscription_fanout" in s:
            f = s["subscription_fanout"]
            out.append(f"| {_size(r['size'])} | subscription B→A | 1 | | {f['p50_ms']} / {f['p95_ms']} / max "
                       f"{f['max_ms']} | {f['events']} events |")
        for note in r.get("notes", []):
            out.append(f"| {_size(r['size'])} | note | | | | {note} |")
    for r in results:
        for prefix, label in (("", "fast path on"), ("standard_", "fast path off")):
            if prefix + "profile" in r:
                p = r[prefix + "profile"]
                out += ["", f"Profile of the list page in-process at {_size(r['size'])} ({label}): "
                            f"{p['wall_ms_per_request_under_profile']} ms/request under cProfile; own time by package "
                            f"(ms/request): {p['by_package_ms']}"]
    return "\n".join(out)


if __name__ == "__main__":  # python -m bench.report bench/results/*.json
    print(markdown([json.loads(Path(p).read_text()) for p in sys.argv[1:]]))
