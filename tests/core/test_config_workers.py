from __future__ import annotations

from pathlib import Path

from veriscan.core.config import Settings


def test_worker_threads_default_to_embedded_only_without_redis(tmp_path: Path) -> None:
    embedded = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    distributed = Settings(_env_file=None, data_dir=tmp_path, redis_url="redis://x")  # type: ignore[call-arg]
    assert embedded.worker_threads == 4
    assert distributed.worker_threads == 0
    assert (
        Settings(_env_file=None, data_dir=tmp_path, redis_url="redis://x", workers=2).worker_threads
        == 2
    )  # type: ignore[call-arg]
