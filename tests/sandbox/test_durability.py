"""The sandbox outlives its server: a stop and a start on the same store keep
every customer, and a kill -9 in the middle of a burst of writes loses no
acknowledged registration (SQLite WAL with synchronous=NORMAL survives a killed
process; PostgreSQL commits before the answer)."""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

WRITERS = 4
BURST_ACKS = 150  # acknowledged registrations before the kill (the burst goes on meanwhile)


def customer(n: int) -> dict[str, str]:
    return {"mobile": f"91888{n:07d}", "email": f"durable{n}@example.com",
            "firstname": f"D{n}"}


def read_back(server: Any, n: int) -> dict[str, Any]:
    return server.get(f"mobile={customer(n)['mobile']}&user_id=true")


def test_a_restart_keeps_the_sandbox(store_url: str, serve: Callable[..., Any]) -> None:
    server = serve("--workers", "2", "--store", store_url)
    ids = {}
    for n in range(5):
        status, item = server.add(customer(n))
        assert server.acknowledged(status, item), item
        ids[n] = item["user_id"]
    assert server.stop() == 0
    server = serve("--workers", "2", "--store", store_url)
    for n, user_id in ids.items():
        got = read_back(server, n)
        assert got["item_status"]["code"] == "1000", got
        assert (got["user_id"], got["firstname"], got["email"]) == \
            (user_id, f"D{n}", customer(n)["email"])
    status, item = server.add(customer(99))  # ids go on after the stored ones
    assert server.acknowledged(status, item) and int(item["user_id"]) > max(map(int, ids.values()))
    assert server.stop() == 0


class Burst:
    """Writer threads registering new customers as fast as the server answers;
    every acknowledged registration is recorded."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.acknowledged: list[int] = []
        self.unanswered = 0  # requests the kill cut off
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.write, args=(w,), daemon=True)
                        for w in range(WRITERS)]

    def write(self, writer: int) -> None:
        n = writer
        while not self.stop.is_set():
            try:
                status, item = self.server.add(customer(n), timeout=10)
            except (OSError, http.client.HTTPException, ValueError, KeyError):  # killed
                with self.lock:
                    self.unanswered += 1
                time.sleep(0.01)
            else:
                if self.server.acknowledged(status, item):
                    with self.lock:
                        self.acknowledged.append(n)
            n += WRITERS

    def __enter__(self) -> Burst:
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, count: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, \
                f"only {len(self.acknowledged)} writes in {seconds} s"
            time.sleep(0.01)

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def test_a_kill_during_a_write_burst_loses_no_acknowledged_write(
        store_url: str, serve: Callable[..., Any], stored_mobiles: Callable[[str], list[str]],
        ) -> None:
    server = serve("--workers", "2", "--store", store_url)
    with Burst(server) as burst:
        burst.wait_for(BURST_ACKS)
        server.kill()  # SIGKILL to granian's main process and its workers, mid-burst
        time.sleep(0.3)  # the writers see their connections refused
    acknowledged = list(burst.acknowledged)
    assert len(acknowledged) >= BURST_ACKS
    stored = set(stored_mobiles(store_url))  # the store itself, as a restart finds it
    lost = [customer(n)["mobile"] for n in acknowledged if customer(n)["mobile"] not in stored]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged writes lost: {lost[:5]}"
    server = serve("--workers", "2", "--store", store_url)  # and the server starts on it
    for n in acknowledged[-3:]:
        assert read_back(server, n)["item_status"]["code"] == "1000"
    assert server.stop() == 0


@pytest.mark.parametrize(("variable", "store"), [
    ("XDG_DATA_HOME", "capmock/sandbox.sqlite"),
    ("HOME", ".local/share/capmock/sandbox.sqlite"),
])
def test_the_default_store_is_kept_in_the_users_data_directory(
        tmp_path: Path, serve: Callable[..., Any], variable: str, store: str) -> None:
    """No --store: a SQLite file in the user's data directory, kept across runs."""
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_DATA_HOME")}
    env[variable] = str(tmp_path / "user")
    server = serve(env=env)
    status, item = server.add(customer(1))
    assert server.acknowledged(status, item), item
    assert server.stop() == 0
    assert (tmp_path / "user" / store).is_file()
    server = serve(env=env)
    assert read_back(server, 1)["user_id"] == item["user_id"]
    assert server.stop() == 0
