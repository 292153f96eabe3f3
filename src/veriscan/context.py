"""What one process holds for its whole life, built once by the composition root."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from veriscan.core.config import Settings
from veriscan.core.db import Database
from veriscan.core.security import Passwords, SecretBox, Tokens
from veriscan.engines.virustotal.client import VirusTotalClient
from veriscan.storage import BlobStore


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    passwords: Passwords
    tokens: Tokens
    secret_box: SecretBox
    virustotal: VirusTotalClient
    started_at: float = field(default_factory=time.monotonic)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secrets = settings.secrets()
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url),
            blobs=BlobStore(settings.blob_dir),
            passwords=Passwords(),
            tokens=Tokens(
                secrets,
                access_ttl=timedelta(minutes=settings.access_token_minutes),
                refresh_ttl=timedelta(days=settings.refresh_token_days),
            ),
            secret_box=SecretBox(secrets),
            virustotal=VirusTotalClient(settings.virustotal_url, settings.virustotal_timeout),
        )

    def close(self) -> None:
        self.db.dispose()
