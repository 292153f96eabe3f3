"""One settings object, read from VERISCAN_* variables and a .env file."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRET_FILE_NAME = "secret.key"  # noqa: S105 - a file name


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VERISCAN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Where the embedded default keeps everything: the SQLite database, the blobs and the
    # generated secret. Relative paths are taken from the working directory.
    data_dir: Path = Path("var")
    # SQLAlchemy URL; empty means SQLite in data_dir. postgresql:// is served by psycopg 3.
    database_url: str = ""
    # Redis URL for rate limits (and, later, the task queue and socket.io fan-out).
    # Empty means in-process memory: right for one process, wrong for several.
    redis_url: str = ""
    # Signs tokens and encrypts VirusTotal keys. Empty: a random one is generated once and
    # kept in data_dir/secret.key, so restarts keep tokens and stored keys valid.
    secret_key: SecretStr = SecretStr("")
    # Secrets used before the current one, comma separated: tokens signed and keys
    # encrypted with them are still read, and `veriscan rotate-keys` re-encrypts.
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Base URL of VirusTotal's v3 API; tests point it at a local stand-in.
    virustotal_url: str = "https://www.virustotal.com/api/v3"
    # Seconds before a request to VirusTotal counts as unreachable.
    virustotal_timeout: float = 15.0
    # Requests per client address: "100/15minutes", "10/second", or "0" for no limit.
    # open: anyone may register (the documents' behaviour); closed: only admins create
    # users (POST /api/admin/users, veriscan user create).
    registration: Literal["open", "closed"] = "open"
    rate_limit: str = "100/15minutes"
    # Per user, for requests with a valid access token (the address limit above is for the
    # others: sign-in, registration, refresh). "0": not limited.
    user_rate_limit: str = "1000/15minutes"
    # Largest file accepted, in megabytes (VirusTotal's own limit is 650).
    max_upload_mb: int = Field(default=650, ge=1)
    # Most files in one batch upload (POST /api/scans/batch, /api/files/batch); the
    # batch's body is bounded by this many times the per-file limit.
    max_batch_files: int = Field(default=50, ge=1, le=1000)
    # Largest body of any other request (JSON), in kilobytes: more is a 413.
    max_body_kb: int = Field(default=1024, ge=1)
    # Socket of a ClamAV daemon (clamd) for the local ClamAV engine: a Unix socket path
    # or tcp://host:port. Empty disables ClamAV.
    clamd_socket: str = ""
    # Browser origins allowed to call the API and connect to socket.io from another origin
    # (a frontend on its own port), as a JSON list: ["http://localhost:3000"]. Empty: the
    # dashboard served here only (same origin).
    cors_origins: list[str] = Field(default_factory=list)
    # The local YARA-X engine (rules shipped in the package plus data_dir/yara-rules).
    yara_enabled: bool = True
    # Folder of the users' own YARA rules; empty means data_dir/yara-rules.
    yara_rules_dir: Path | None = None
    # Longest YARA-X scan of one file, in whole seconds: past it the file's YARA-X row is
    # a timeout. Files over 4 MiB, and any file that takes YARA-X over a second, are
    # scanned in a child process, so a long scan never stalls the rest of the service.
    yara_timeout_seconds: int = Field(default=60, ge=1, le=3600)

    # Name of the deployment: the servers and workers of one deployment share it. With
    # Redis it prefixes every key (queue, rate limits, VirusTotal quotas, locks) and the
    # socket.io channel, so several deployments can share one Redis.
    queue_name: str = Field(default="veriscan", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # Worker threads that run scans inside `veriscan serve`. Default: 4 on the embedded
    # queue (no Redis), 0 with Redis, where `veriscan worker` processes do the work.
    workers: int | None = Field(default=None, ge=0, le=64)
    # A worker owns a running scan for this long and renews it while alive; when a
    # worker dies the scan is taken over after the lease runs out.
    scan_lease_seconds: float = Field(default=60.0, gt=0)
    # A scan not finished this long after it was accepted fails, with the reason.
    scan_deadline_seconds: float = Field(default=6 * 3600.0, gt=0)
    # How often expired leases and deadlines are looked for.
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    # A repeat scan of the same content by the same engine version within this age
    # reuses the stored verdicts instead of asking the engine again (0 disables).
    results_cache_seconds: float = Field(default=24 * 3600.0, ge=0)

    # POST /api/scans/upload waits this long for the analysis before answering 202.
    media_wait_seconds: float = Field(default=30.0, ge=0)
    # riskScore at or above which a media scan is DEEPFAKE, or SUSPICIOUS.
    deepfake_threshold: int = Field(default=70, ge=1, le=100)
    suspicious_threshold: int = Field(default=40, ge=1, le=100)
    # Seconds one media analyzer may take on one file.
    analyzer_timeout_seconds: float = Field(default=120.0, gt=0)
    # PEM file of C2PA trust anchors: signers chaining to one are reported "trusted".
    # Without it no Content Credential is called trusted (only intact or not).
    c2pa_trust_anchors: Path | None = None
    # Folder of the learned models that do not ship in the package (the CLIP encoder),
    # filled by `veriscan models install`; empty means <environment>/share/veriscan/models.
    model_dir: Path | None = None
    # Further learned detectors of your own (ONNX models), as a JSON list of objects:
    # {"name", "path", "kinds": ["IMAGE"], "input_size": 224, "output": "probability"}.
    learned_detectors: Annotated[list[dict[str, Any]], NoDecode] = Field(default_factory=list)

    # A VirusTotal key's allowance when VirusTotal does not tell (a free key's).
    virustotal_requests_per_minute: int = Field(default=4, ge=1)
    virustotal_requests_per_day: int = Field(default=500, ge=1)
    # The length of VirusTotal's "minute" and "day" quota windows. Only tests shorten them.
    virustotal_minute_seconds: float = Field(default=60.0, gt=0)
    virustotal_day_seconds: float = Field(default=86400.0, gt=0)
    # Slack added to each quota window so requests at its edge land in the right one.
    virustotal_quota_margin_seconds: float = Field(default=1.0, ge=0)
    # Polling an analysis: the first poll this long after the upload, then a steady
    # interval (vt-py's 20 s) while the key's quota allows; when the scans polling on one
    # key would need more than its per-minute allowance, polls are spread out, up to the
    # longest interval.
    virustotal_first_poll_seconds: float = Field(default=10.0, gt=0)
    virustotal_poll_seconds: float = Field(default=20.0, gt=0)
    virustotal_poll_max_seconds: float = Field(default=300.0, gt=0)
    # Retrying after a VirusTotal server error or a network failure: first wait, longest.
    virustotal_retry_seconds: float = Field(default=5.0, gt=0)
    virustotal_retry_max_seconds: float = Field(default=60.0, gt=0)
    # A scan whose VirusTotal has not answered for this long completes with its local
    # engines' verdicts (VirusTotal's row says since when it was unreachable).
    virustotal_give_up_seconds: float = Field(default=600.0, gt=0)
    # /health shows VirusTotal "degraded" while its last failure is this recent and no
    # request has succeeded since.
    virustotal_degraded_seconds: float = Field(default=900.0, gt=0)
    # How long what GET /users/{key} said of a key's allowance is trusted.
    virustotal_allowance_seconds: float = Field(default=3600.0, gt=0)
    # The longest an idle worker waits before it looks at the queue again (a job queued
    # by this process wakes it at once; this bounds the wait for one queued elsewhere).
    queue_poll_seconds: float = Field(default=0.1, gt=0, le=10)
    # Argon2id cost of password hashes: memory (KiB) and passes. Lower them only for tests:
    # every sign-in pays this cost, which is the point.
    password_hash_memory_kib: int = Field(default=65536, ge=1024)
    password_hash_time_cost: int = Field(default=3, ge=1)
    # Lifetime of access tokens (minutes) and refresh tokens (days).
    access_token_minutes: int = Field(default=60, ge=1)
    refresh_token_days: int = Field(default=7, ge=1)
    # Trust X-Forwarded-For from these addresses (comma separated) when a proxy is in front.
    forwarded_allow_ips: str = "127.0.0.1"
    # E-mail notifications through SMTP; empty host: no e-mail is sent (in-app only).
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    # "starttls" (upgrade on the submission port), "tls" (implicit, port 465) or "none".
    smtp_security: str = Field(default="starttls", pattern=r"^(starttls|tls|none)$")
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "Veriscan <veriscan@localhost>"
    smtp_timeout: float = Field(default=10.0, gt=0)
    # A PEM bundle of the CAs to trust for the SMTP server's certificate (an internal CA);
    # empty: the system's. The certificate and its host name are always checked.
    smtp_ca_file: str = ""
    # The dashboard's address, for links in e-mails (empty: no links).
    public_url: str = ""
    # Python log level for the service's own loggers.
    log_level: str = "INFO"

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("learned_detectors", mode="before")
    @classmethod
    def _parse_detectors(cls, value: object) -> object:
        if isinstance(value, str):
            import json

            return json.loads(value) if value.strip() else []
        return value

    @field_validator("rate_limit", "user_rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        if value.strip() not in ("", "0"):
            parse_many(value)  # raises ValueError on a malformed limit
        return value.strip()

    @cached_property
    def resolved_database_url(self) -> str:
        url = self.database_url.strip()
        if not url:
            return f"sqlite:///{(self.data_dir / 'veriscan.db').resolve()}"
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def worker_threads(self) -> int:
        if self.workers is not None:
            return self.workers
        return 0 if self.redis_url else 4

    @property
    def user_yara_rules_dir(self) -> Path:
        return self.yara_rules_dir or self.data_dir / "yara-rules"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def rate_limit_enabled(self) -> bool:
        return self.rate_limit not in ("", "0")

    def secrets(self) -> list[bytes]:
        """The current secret first, then the previous ones (for MultiFernet and JWT)."""
        current = self.secret_key.get_secret_value() or _load_or_create_secret(self.data_dir)
        return [current.encode()] + [
            key.get_secret_value().encode() for key in self.previous_secret_keys
        ]


def _load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / SECRET_FILE_NAME
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        # link() fails if another process created the secret first; theirs wins.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
