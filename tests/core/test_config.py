from __future__ import annotations

import stat
from pathlib import Path

import pytest

from veriscan.core.config import Settings


def test_defaults_work_without_any_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'var' / 'veriscan.db'}"
    assert settings.max_upload_bytes == 650 * 1024 * 1024
    assert settings.rate_limit == "100/15minutes"
    assert settings.virustotal_url == "https://www.virustotal.com/api/v3"


def test_a_generated_secret_is_kept(tmp_path: Path) -> None:
    first = Settings(_env_file=None, data_dir=tmp_path).secrets()  # type: ignore[call-arg]
    again = Settings(_env_file=None, data_dir=tmp_path).secrets()  # type: ignore[call-arg]
    assert first == again and len(first[0]) >= 48
    secret_file = tmp_path / "secret.key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [secret_file]


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("VERISCAN_MAX_UPLOAD_MB=12\nVERISCAN_RATE_LIMIT=0\n")
    monkeypatch.setenv("VERISCAN_DATABASE_URL", "postgresql://u:p@db/veriscan")
    monkeypatch.setenv("VERISCAN_PREVIOUS_SECRET_KEYS", "old-one, older-one")
    monkeypatch.setenv("VERISCAN_SECRET_KEY", "current")
    settings = Settings()
    assert settings.max_upload_mb == 12
    assert not settings.rate_limit_enabled
    assert settings.resolved_database_url == "postgresql+psycopg://u:p@db/veriscan"
    assert settings.secrets() == [b"current", b"old-one", b"older-one"]
    assert "current" not in repr(settings) and "old-one" not in repr(settings)
