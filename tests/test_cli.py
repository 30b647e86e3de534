"""The `crm` command as an operator uses it (real subprocesses)."""

import os
import signal
import subprocess
import sys
import time

from app.models import User

CRM = [sys.executable, "-m", "app.cli"]


def _run(args, env_extra, timeout=60, **kwargs):
    env = {**os.environ, **env_extra}
    return subprocess.run(CRM + args, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)


async def test_create_user_from_the_command_line(database_url):
    url = database_url
    done = _run(["create-user", "Chef.Boss@Pantry.example", "--role", "manager"], {"DATABASE_URL": url, "CRM_PASSWORD": "long-enough-pw"})
    assert done.returncode == 0, done.stderr
    user = await User.get(email="chef.boss@pantry.example")
    assert user.role.value == "manager"
    dup = _run(["create-user", "chef.boss@pantry.example", "--role", "rep", "--password", "long-enough-pw"], {"DATABASE_URL": url})
    assert dup.returncode == 1 and "already" not in dup.stdout and "email: a user with this email exists" in dup.stderr
    assert "Traceback" not in dup.stderr


def test_unreachable_database_gives_one_clear_message():
    started = time.monotonic()
    done = _run(["migrate"], {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing", "CONNECT_TIMEOUT_SECONDS": "2"})
    assert done.returncode == 1
    assert "cannot reach the database" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 30


def test_unreachable_redis_gives_one_clear_message(tmp_path):
    done = _run(["serve"], {"DATABASE_URL": f"sqlite://{tmp_path}/x.sqlite3", "REDIS_URL": "redis://127.0.0.1:1/0",
                            "CONNECT_TIMEOUT_SECONDS": "1"})
    assert done.returncode == 1
    assert "cannot reach Redis" in done.stderr and "Traceback" not in done.stderr


def test_export_schema_matches_the_committed_contract():
    done = _run(["export-schema"], {})
    assert done.returncode == 0
    with open(os.path.join(os.path.dirname(__file__), "..", "schema.graphql")) as committed:
        assert done.stdout == committed.read()


def _redis_children(parent_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent_pid), "-f", "redis-server"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_embedded_redis_uses_a_unix_socket_and_dies_with_its_parent():
    script = (
        "import sys, time\n"
        "from app.runtime import EmbeddedRedis\n"
        "r = EmbeddedRedis(); print(r.start(), flush=True); time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None  # stdout=PIPE
    try:
        url = parent.stdout.readline().strip()
        assert url.startswith("unix://")
        children = _redis_children(parent.pid)
        assert len(children) == 1
        listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        assert f"pid={children[0]}," not in listening, "the embedded Redis must not listen on TCP"
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 10
        while _alive(children[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(children[0]), "the embedded Redis outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_seed_demo_refuses_a_database_with_data_and_reset_starts_over(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/demo.sqlite3"}
    assert _run(["migrate"], env).returncode == 0
    first = _run(["seed-demo"], env, timeout=300)
    assert first.returncode == 0 and "demo data loaded" in first.stdout, first.stderr
    again = _run(["seed-demo"], env, timeout=300)
    assert again.returncode == 0 and "--reset" in again.stdout and "demo data loaded" not in again.stdout
    unconfirmed = _run(["seed-demo", "--reset"], env, stdin=subprocess.DEVNULL)
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
    reset = _run(["seed-demo", "--reset", "--yes"], env, timeout=300)
    assert reset.returncode == 0 and "demo data loaded" in reset.stdout, reset.stderr
    # Started over: the same records as the first load (same seed), ids from 1 again.
    import sqlite3

    with sqlite3.connect(tmp_path / "demo.sqlite3") as db:
        assert db.execute("SELECT MIN(id) FROM users").fetchone()[0] == 1
        users = db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
        assert users == len({row[0] for row in db.execute("SELECT email FROM users")})
    counts = first.stdout.split("demo data loaded: ")[1].splitlines()[0]
    assert reset.stdout.split("demo data loaded: ")[1].splitlines()[0] == counts
