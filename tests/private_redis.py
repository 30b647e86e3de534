"""A redis-server of a test's own on a unix socket, which the test may flush, kill and restart (empty,
on the same socket: clients see the same URL come back, as after an operator's restart)."""

from __future__ import annotations

import shutil
import signal

from app.runtime import EmbeddedRedis


class PrivateRedis(EmbeddedRedis):
    """The embedded server's start-up (app.runtime), with the faults a test needs."""

    def start(self) -> str:
        return self.launch(timeout=15)

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
