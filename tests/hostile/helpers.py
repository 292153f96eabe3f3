"""Measuring what a hostile input costs the server process (its peak memory, sampled),
and an account to upload the inputs with."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import psutil

from tests.conftest import TEST_PASSWORD, Account, unique_name
from tests.live import LiveServer

MIB = 1024 * 1024
SAMPLE_SECONDS = 0.005


@dataclass
class PeakRss:
    """RSS of this process (the live servers run in it) before, and at its highest during,
    a `with` block: transient allocations are freed long before the block ends, so the
    peak is sampled on a thread rather than read once at the end."""

    before: int = 0
    peak: int = 0

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / MIB


@contextmanager
def peak_rss() -> Iterator[PeakRss]:
    process = psutil.Process()
    measured = PeakRss(before=process.memory_info().rss)
    measured.peak = measured.before
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            measured.peak = max(measured.peak, process.memory_info().rss)
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, name="peak-rss", daemon=True)
    sampler.start()
    try:
        yield measured
    finally:
        done.set()
        sampler.join()
        measured.peak = max(measured.peak, process.memory_info().rss)


def operative(server: LiveServer) -> Account:
    """A user registered and logged in through the API, for a whole module of tests:
    password hashing makes an account per test the slowest part of a cheap test."""
    username = unique_name("hostile")
    credentials = {"username": username, "password": TEST_PASSWORD}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        email = f"{username}@example.com"
        registered = client.post("/api/auth/register", json={**credentials, "email": email})
        assert registered.status_code == 201, registered.text
        login = client.post("/api/auth/login", json=credentials)
        assert login.status_code == 200, login.text
        body = login.json()
    return Account(
        id=body["user"]["id"],
        username=username,
        email=email,
        password=TEST_PASSWORD,
        role="operative",
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )
