"""Finished scans written straight into a live server's database: exports read rows, and
hundreds of real analyses would take minutes. Only finished scans, so no worker picks
them up."""

from __future__ import annotations

import hashlib
import io
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from tests.live import LiveServer
from veriscan.files.models import Blob, File
from veriscan.malware.models import MalwareScan
from veriscan.media.models import MediaEvidence, MediaScan


def picture(colour: tuple[int, int, int], size: tuple[int, int], fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def _blob(session: Any) -> str:
    sha256 = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
    session.add(Blob(sha256=sha256, size=1234, ref_count=1))
    session.flush()
    return sha256


def media_scans(
    server: LiveServer,
    owner_id: str,
    specs: Sequence[dict[str, Any]],
    *,
    evidence: Sequence[tuple[str, str, bytes]] = (),
) -> list[str]:
    """One completed media scan per spec (fields of MediaScan), oldest first; returns ids."""
    start = datetime.now(UTC) - timedelta(hours=1)
    ids: list[str] = []
    with server.context.db.session() as session:
        sha256 = _blob(session)
        for i, spec in enumerate(specs):
            values: dict[str, Any] = {
                "user_id": uuid.UUID(owner_id),
                "file_name": f"photo-{i}.jpg",
                "media_type": "IMAGE",
                "mime_type": "image/jpeg",
                "file_size": 20_000 + i,
                "sha256": sha256,
                "tags": [],
                "tags_text": "",
                "status": "COMPLETED",
                "result": "AUTHENTIC",
                "risk_score": 10,
                "confidence": 80,
                "explanation": "No sign of manipulation.",
                "created_at": start + timedelta(seconds=i),
                "deadline_at": start + timedelta(hours=2),
                "progress": 100,
                "stage": "done",
            }
            values.update(spec)
            scan = MediaScan(**values)
            session.add(scan)
            session.flush()
            for name, caption, content in evidence:
                session.add(
                    MediaEvidence(scan_id=scan.id, name=name, caption=caption, content=content)
                )
            ids.append(str(scan.id))
    return ids


def malware_scans(server: LiveServer, owner_id: str, specs: Sequence[dict[str, Any]]) -> list[str]:
    """One finished malware scan per spec (fields of MalwareScan), oldest first."""
    start = datetime.now(UTC) - timedelta(hours=1)
    ids: list[str] = []
    with server.context.db.session() as session:
        sha256 = _blob(session)
        for i, spec in enumerate(specs):
            file = File(
                user_id=uuid.UUID(owner_id),
                filename=spec.pop("filename", f"sample-{i}.bin"),
                file_size=100 + i,
                mime_type="application/octet-stream",
                hash_md5="0" * 32,
                hash_sha1="0" * 40,
                hash_sha256=sha256,
            )
            session.add(file)
            session.flush()
            when = start + timedelta(seconds=i)
            values: dict[str, Any] = {
                "user_id": uuid.UUID(owner_id),
                "file_id": file.id,
                "sha256": sha256,
                "status": "completed",
                "malicious": 0,
                "undetected": 5,
                "with_verdict": 5,
                "created_at": when,
                "started_at": when,
                "completed_at": when,
                "deadline_at": when + timedelta(hours=1),
                "progress": 100,
                "stage": "done",
            }
            values.update(spec)
            scan = MalwareScan(**values)
            session.add(scan)
            session.flush()
            ids.append(str(scan.id))
    return ids
