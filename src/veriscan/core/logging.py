"""Logging setup: the service's own loggers at the configured level, noisy ones quieted."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("veriscan").setLevel(level.upper())
    # httpx logs every request URL at INFO; VirusTotal's GET /users/{key} carries a key.
    logging.getLogger("uvicorn").setLevel(level.upper())
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
