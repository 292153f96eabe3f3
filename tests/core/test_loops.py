"""One event loop per worker thread: made on first use, kept, closed when the thread ends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

from veriscan.core.loops import run_on_thread_loop


async def _current_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


async def _leave_a_task() -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(asyncio.sleep(3600))


def test_a_thread_keeps_its_loop_and_it_is_closed_when_the_thread_ends() -> None:
    loops: list[asyncio.AbstractEventLoop] = []
    left: list[asyncio.Task[None]] = []

    def work() -> None:
        loops.append(run_on_thread_loop(_current_loop()))
        left.append(run_on_thread_loop(_leave_a_task()))
        loops.append(run_on_thread_loop(_current_loop()))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert loops[0] is loops[1]
    assert left[0].cancelled()  # a task left behind is cancelled, as asyncio.run does
    assert loops[0].is_closed()


def test_each_thread_has_its_own_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    def work() -> None:
        loops.append(run_on_thread_loop(_current_loop()))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(loops) == 2 and loops[0] is not loops[1]


def test_a_process_whose_threads_kept_loops_exits() -> None:
    """The loops are closed at the interpreter's exit without starting a thread (no thread
    starts then): `veriscan worker` once hung there after SIGTERM."""
    code = (
        "import asyncio, threading\n"
        "from veriscan.core.loops import run_on_thread_loop\n"
        "async def work():\n"
        "    await asyncio.to_thread(sum, [1, 2])\n"
        "run_on_thread_loop(work())\n"
        "thread = threading.Thread(target=lambda: run_on_thread_loop(work()))\n"
        "thread.start(); thread.join()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=30, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
