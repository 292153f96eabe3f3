"""One user's data, made once for the package, that the other tests try to reach or leak."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.live import LiveServer, live_server
from tests.malware.helpers import eicar_variant, upload, wait_for
from tests.media.helpers import photo_jpeg, upload_media
from tests.security.helpers import new_account
from veriscan.core.config import Settings


@dataclass(frozen=True)
class Victim:
    """A (an operative) with a VirusTotal key, two scanned files, a media scan and the
    notifications those three scans gave A."""

    account: Account
    key_id: str
    key_name: str
    key_value: str
    file_ids: tuple[str, ...]
    file_names: tuple[str, ...]
    sha256s: tuple[str, ...]
    contents: tuple[bytes, ...]
    malware_scan_ids: tuple[str, ...]
    media_id: str
    media_name: str
    media_tag: str
    media_content: bytes
    evidence: tuple[str, ...]
    # A media batch of A's (its one file rejected: no scan, so no more notifications).
    media_batch_id: str
    # A's comment on A's media scan.
    media_comment_id: str
    # A's case, holding A's media scan and first malware scan, with a note of A's.
    case_id: str
    case_title: str
    # A's notifications, one per finished scan (all unread), as GET /api/notifications
    # lists them: newest first.
    notification_ids: tuple[str, ...]
    # Bytes of the stored samples that no answer may carry.
    markers: tuple[bytes, ...]

    def ids(self, path: str) -> dict[str, list[str]]:
        """Values of A's for each path parameter of an endpoint of the schema.

        A parameter this does not know fails the caller's test: a new endpoint that takes
        an id has to be added here, so that the security tests cover it.
        """
        values: dict[str, list[str]] = {
            "key_id": [self.key_id],
            "file_id": list(self.file_ids),
            "user_id": [self.account.id],
            "name": list(self.evidence),
            "notification_id": list(self.notification_ids),
            "batch_id": [self.media_batch_id],
            "comment_id": [self.media_comment_id],
            "case_id": [self.case_id],
            "scan_kind": ["media"],
            "scan_id": (
                list(self.malware_scan_ids) if path.startswith("/api/scan/") else [self.media_id]
            ),
        }
        return values

    def private_strings(self) -> list[str]:
        """What of A's another user must never be shown."""
        return [
            *self.file_names,
            *self.sha256s,
            self.key_name,
            self.media_name,
            self.media_tag,
            self.case_title,
            self.account.username,
            self.account.email,
        ]


def wait_for_notifications(
    api: httpx.Client, account: Account, scan_ids: set[str], timeout: float = 10.0
) -> list[dict[str, Any]]:
    """A's notifications, once there is one for each of these scans (each finished scan
    notifies its owner; the notification is written with the scan's final status)."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get("/api/notifications", headers=account.headers, params={"per_page": 100})
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()["data"]
        if {item["scanId"] for item in listed} >= scan_ids:
            return listed
        assert time.monotonic() < deadline, f"no notification for every scan: {listed}"
        time.sleep(0.05)


def marked_jpeg(marker: bytes) -> bytes:
    """A real picture with the marker after its end (where no decoder looks)."""
    return photo_jpeg(seed=7) + marker


@pytest.fixture(scope="package")
def victim(server: LiveServer, vt: Any) -> Iterator[Victim]:
    account = new_account(server)
    tag = secrets.token_hex(6)
    key_value = f"vtkey{secrets.token_hex(28)}"
    key_name = f"key-of-{tag}"
    vt.add_key(key_value, per_minute=None, per_day=None)
    sample_marker = f"VERISCAN-SAMPLE-MARKER-{secrets.token_hex(12)}".encode()
    media_marker = f"VERISCAN-MEDIA-MARKER-{secrets.token_hex(12)}".encode()
    contents = (eicar_variant(), b"#!/bin/sh\n# " + sample_marker + b"\nexit 0\n")
    names = (f"eicar-{tag}.com", f"dropper-{tag}.sh")
    with httpx.Client(base_url=server.url, timeout=30) as api:
        created = api.post(
            "/api/keys/", headers=account.headers, json={"name": key_name, "key_value": key_value}
        )
        assert created.status_code == 201, created.text
        uploads = [
            upload(api, account, content, name)
            for content, name in zip(contents, names, strict=True)
        ]
        scan_ids = tuple(str(body["scan"]["scan_id"]) for body in uploads)
        for scan_id in scan_ids:
            assert wait_for(api, account, scan_id)["status"] == "completed"
        media_name = f"evidence-{tag}.jpg"
        media_tag = f"case-{tag}"
        media_content = marked_jpeg(media_marker)
        response = upload_media(api, account, media_content, media_name, tags=media_tag)
        assert response.status_code == 200, response.text  # finished within the wait
        media = response.json()["data"]
        assert media["status"] == "COMPLETED"
        evidence = tuple(item["name"] for item in media["evidence"])
        assert evidence, "an image scan shows its evidence"
        notifications = wait_for_notifications(api, account, {*scan_ids, media["id"]})
        assert len(notifications) == 3, notifications
        assert not any(item["read"] for item in notifications)
        batch = api.post(
            "/api/scans/batch",
            headers=account.headers,
            files=[("files", (f"notes-{tag}.txt", b"not a picture"))],
        )
        assert batch.status_code == 201, batch.text
        comment = api.post(
            f"/api/scans/{media['id']}/comments",
            headers=account.headers,
            json={"body": f"note on {tag}"},
        )
        assert comment.status_code == 201, comment.text
        case_title = f"case-title-{tag}"
        case = api.post("/api/cases", headers=account.headers, json={"title": case_title})
        assert case.status_code == 201, case.text
        case_id = case.json()["data"]["id"]
        # Both kinds: an admin reads every case, but not A's malware scan through it.
        for kind, scan in (("media", media["id"]), ("malware", scan_ids[0])):
            added = api.post(
                f"/api/cases/{case_id}/scans",
                headers=account.headers,
                json={"scanKind": kind, "scanId": scan},
            )
            assert added.status_code == 201, added.text
        note = api.post(
            f"/api/cases/{case_id}/notes", headers=account.headers, json={"body": f"on {tag}"}
        )
        assert note.status_code == 201, note.text
    yield Victim(
        account=account,
        key_id=created.json()["api_key"]["id"],
        key_name=key_name,
        key_value=key_value,
        file_ids=tuple(body["id"] for body in uploads),
        file_names=names,
        sha256s=tuple(body["hash_sha256"] for body in uploads),
        contents=contents,
        malware_scan_ids=scan_ids,
        media_id=media["id"],
        media_name=media_name,
        media_tag=media_tag,
        media_content=media_content,
        evidence=evidence,
        media_batch_id=batch.json()["data"]["batchId"],
        media_comment_id=comment.json()["data"]["id"],
        case_id=case_id,
        case_title=case_title,
        notification_ids=tuple(item["id"] for item in notifications),
        markers=(
            sample_marker,
            b"X5O!P%@AP[4",
            b"7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
            media_marker,
        ),
    )


@dataclass(frozen=True)
class Others:
    operative: Account
    analyst: Account
    admin: Account


@pytest.fixture(scope="package")
def others(server: LiveServer) -> Others:
    """Users other than the victim, one of each role."""
    return Others(new_account(server), new_account(server, "analyst"), new_account(server, "admin"))


CANARY = b"CANARY-SECRET-" + secrets.token_hex(8).encode()


@pytest.fixture(scope="package")
def strict_server(
    settings_factory: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server with a 1 MB upload limit, the default data dir layout (SQLite and a
    secret.key beside the blobs, here a canary: the secret comes from the settings) and
    no workers, so uploads stay as they were received."""
    data_dir = tmp_path_factory.mktemp("strict-data")
    (data_dir / "secret.key").write_bytes(CANARY)
    settings = settings_factory(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'veriscan.db'}",
        max_upload_mb=1,
        media_wait_seconds=0,
        workers=0,
    )
    with live_server(settings) as live:
        yield live


@pytest.fixture(scope="package")
def spec(server: LiveServer) -> dict[str, Any]:
    """The app's own OpenAPI document: the list of endpoints the tests walk."""
    response = httpx.get(f"{server.url}/openapi.json", timeout=30)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body
