"""Telling a stopping process's refusal from a bug.

Once a process stops, asyncio's thread pool takes no more work and says so with a
RuntimeError. Engines and analyzers run their work on that pool; such a refusal is neither
the file's doing nor theirs, so it is logged as a warning, not as a crash, and the runner
leaves the scan to its lease (AppContext.stopping).
"""

from __future__ import annotations

# What asyncio and its thread pool say once the pool is shut down.
_REFUSALS = ("cannot schedule new futures", "Executor shutdown has been called")


def refused_by_a_stopping_pool(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and any(words in str(exc) for words in _REFUSALS)
