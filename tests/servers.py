"""Real API processes (uvicorn) for tests that cross process boundaries."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.smtp_server import free_port


class ApiProcess:
    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.env = {**os.environ, "DATABASE_URL": database_url, **env}
        self.proc: subprocess.Popen | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def __enter__(self) -> "ApiProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120  # a loaded CI machine starts uvicorn slowly
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.http}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the API process did not start")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def post_graphql(api: ApiProcess, query: str, variables: dict | None, token: str) -> dict:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{api.http}/graphql", json={"query": query, "variables": variables or {}},
                                     headers={"Authorization": f"Bearer {token}"})
    return response.json()
