"""Every kind of job in one place: registered on a process's queue, swept together."""

from __future__ import annotations

from veriscan.context import AppContext
from veriscan.malware import tasks as malware_tasks
from veriscan.media import tasks as media_tasks


def register_all(context: AppContext) -> None:
    malware_tasks.register(context)
    media_tasks.register(context)


def sweep_all(context: AppContext) -> None:
    malware_tasks.sweep(context)
    media_tasks.sweep(context)
