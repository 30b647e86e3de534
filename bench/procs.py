"""The processes a bench run needs: API(s), the baseline app, the worker, and the load generator."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


class Server:
    def __init__(self, app: str, env: dict[str, str]) -> None:
        self.app, self.env, self.port = app, env, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.app, "--factory", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.post(f"{self.http}/healthz" if "api" in self.app else f"{self.http}/opportunities", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.app} did not start")

    def __exit__(self, *exc) -> None:
        stop(self.proc)

    def peak_rss_mb(self) -> float:
        assert self.proc is not None  # started by __enter__
        return peak_rss_mb(self.proc.pid)


class Worker:
    """`crm worker [--processes N]`; with overrides, the same WorkerSettings run with other arq options."""

    def __init__(self, env: dict[str, str], processes: int | None = None, **overrides) -> None:
        self.env, self.processes, self.overrides = env, processes, overrides
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Worker":
        command = [str(Path(sys.executable).with_name("crm")), "worker"]
        if self.processes:
            command += ["--processes", str(self.processes)]
        if self.overrides:
            command = [sys.executable, "-c", "from arq.worker import run_worker; from workers.settings import "
                       f"WorkerSettings; run_worker(WorkerSettings, **{self.overrides!r})"]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def wait_for_quiet(max_seconds: float = 10.0, busy_below: float = 0.25, window: float = 0.2) -> float:
    """Wait until the machine's CPUs are mostly idle for a moment (the requests a load generator left
    in flight are done, in the server and in PostgreSQL), at most `max_seconds`; the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        busy0, total0 = _cpu_times()
        time.sleep(window)
        busy1, total1 = _cpu_times()
        if total1 > total0 and (busy1 - busy0) / (total1 - total0) < busy_below:
            break
    return time.monotonic() - started


def load(url: str, bodies: list[dict], *, concurrency: int, duration: float = 8, warmup: float = 1,
         cycle: bool = True, token: str | None = None, keep_requests: bool = False, slow: bool = False,
         accept_encoding: str = "identity") -> dict:
    """Load from a process of its own; its summary. Timed runs use wrk when it is installed (C: it
    leaves the two cores to the API and PostgreSQL), else, and for one-pass runs, bench.load (httpx).
    `slow` requests (seconds each) also take bench.load: it waits for the requests in flight at the
    end, where wrk would walk away and leave the server computing them into the next scenario.
    `accept_encoding`: what the requests accept (by default only uncompressed answers, as the baseline
    sends them; browsers and Apollo Client send "gzip, deflate, br")."""
    if cycle and not keep_requests and not slow and shutil.which("wrk") and os.environ.get("BENCH_LOAD", "wrk") == "wrk":
        return _wrk(url, bodies, concurrency=concurrency, duration=duration, warmup=warmup, token=token,
                    accept_encoding=accept_encoding)
    spec = {"url": url, "bodies": bodies, "concurrency": concurrency, "duration": duration, "warmup": warmup,
            "cycle": cycle, "keep_requests": keep_requests,
            "headers": {"Accept-Encoding": accept_encoding, **({"Authorization": f"Bearer {token}"} if token else {})}}
    with tempfile.TemporaryDirectory() as tmp:
        spec_file, out_file = Path(tmp, "spec.json"), Path(tmp, "out.json")
        spec_file.write_text(json.dumps(spec))
        subprocess.run([sys.executable, "-m", "bench.load", str(spec_file), str(out_file)], cwd=ROOT, check=True)
        return json.loads(out_file.read_text())


def _wrk(url: str, bodies: list[dict], *, concurrency: int, duration: float, warmup: float, token: str | None,
         accept_encoding: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp, "bodies.jsonl")
        body_file.write_text("\n".join(json.dumps(b, separators=(",", ":")) for b in bodies) + "\n")

        def run(seconds: float) -> dict:
            command = ["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
                       "--timeout", "30s", "-s", str(ROOT / "bench" / "wrk.lua"), url, "--", str(body_file),
                       f"Bearer {token}" if token else "", accept_encoding]
            out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
            line = next(line for line in out.splitlines() if line.startswith("WRK-SUMMARY "))
            return json.loads(line.split(" ", 1)[1])

        if warmup:
            run(warmup)
            wait_for_quiet()  # what the warm-up left in flight must not run into the measured seconds
        r = run(duration)
    seconds = r["duration_us"] / 1e6
    return {"requests": r["requests"], "errors": r["errors"], "seconds": round(seconds, 3),
            "rps": round(r["requests"] / seconds, 1) if seconds else 0.0,
            "p50_ms": round(r["p50_us"] / 1000, 2), "p95_ms": round(r["p95_us"] / 1000, 2),
            "p99_ms": round(r["p99_us"] / 1000, 2), "concurrency": concurrency, "generator": "wrk"}
