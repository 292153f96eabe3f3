"""The commands a distributed deployment runs, as the cluster tests run them.

docs/deploy.md, the systemd units and the compose file under deploy/ use exactly these
(tests/distributed/test_deploy_files.py checks), so what is tested is what is deployed.
Placeholders in braces are filled per process.
"""

from __future__ import annotations

# Once per upgrade, before the new version's servers and workers start.
MIGRATE = ("veriscan", "migrate")
# An API + socket.io process; with VERISCAN_REDIS_URL set it runs no scans itself.
SERVE = ("veriscan", "serve", "--host", "{host}", "--port", "{port}")
# A scan worker process.
WORKER = ("veriscan", "worker", "--threads", "{threads}")

# The settings every process of one deployment shares (values are per deployment).
SHARED_SETTINGS = (
    "VERISCAN_DATABASE_URL",
    "VERISCAN_REDIS_URL",
    "VERISCAN_DATA_DIR",
    "VERISCAN_SECRET_KEY",
)


def argv(command: tuple[str, ...], **values: object) -> list[str]:
    return [part.format(**{k: str(v) for k, v in values.items()}) for part in command]
