"""What is stored is never handed out: neither a sample's bytes (samples are hazardous,
never served raw; the one exception is a media scan's own picture, video or recording,
shown to those who read the scan) nor a VirusTotal key's value (write-only: no endpoint, log
line or export shows it). Every GET endpoint of the schema is called with the ids of A's
data, as A, an analyst and an admin, and every export (one scan's and the bulk ones) in
every format: each answer is searched for the samples' bytes and the key's value."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer, LogCapture
from tests.security.conftest import Others, Victim
from tests.security.helpers import combinations, enum_queries, fill, operations

# Served outside the schema: the service's other GET answers.
OUTSIDE_THE_SCHEMA = ("/openapi.json", "/docs", "/", "/history", "/static/js/app.js")


@dataclass
class Seen:
    """One answer: who asked what, and the bytes that came back (and a PDF's text)."""

    sweep: str  # whose sweep: "owner", "analyst" or "admin"
    url: str
    status: int
    body: bytes

    @property
    def export(self) -> tuple[str, str] | None:
        """(path, format) when this is an export, else None."""
        parts = urlsplit(self.url)
        if not parts.path.endswith("/export"):
            return None
        return parts.path, parse_qs(parts.query).get("format", [""])[0]

    def texts(self, tmp_path: Path) -> list[bytes]:
        if not self.body.startswith(b"%PDF-"):
            return [self.body]
        source = tmp_path / "export.pdf"
        source.write_bytes(self.body)
        text = subprocess.run(
            ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True
        ).stdout
        return [self.body, text]


@pytest.fixture(scope="module")
def everything(
    server: LiveServer, spec: dict[str, Any], victim: Victim, others: Others
) -> list[Seen]:
    """Every GET answer about A's data, as A, an analyst and an admin."""
    seen: list[Seen] = []
    with httpx.Client(base_url=server.url, timeout=30) as api:
        sweeps = {"owner": victim.account, "analyst": others.analyst, "admin": others.admin}
        for sweep, caller in sweeps.items():
            for method, template, operation in operations(spec):
                if method != "GET":
                    continue
                asking: Account = others.admin if template.startswith("/api/admin/") else caller
                for values in combinations(template, victim.ids(template)):
                    for query in enum_queries(operation):
                        response = api.get(
                            fill(template, values), params=query, headers=asking.headers
                        )
                        seen.append(
                            Seen(sweep, str(response.url), response.status_code, response.content)
                        )
            for path in OUTSIDE_THE_SCHEMA:
                response = api.get(path, headers=caller.headers)
                seen.append(Seen(sweep, path, response.status_code, response.content))
    return seen


def test_the_owner_got_every_answer(everything: list[Seen], victim: Victim, tmp_path: Path) -> None:
    """The control: the sweep reached the data (so a leak would have shown)."""
    mine = [s for s in everything if s.sweep == "owner"]
    failed = [(s.url, s.status) for s in mine if s.status != 200]
    assert failed == []
    urls = " ".join(s.url for s in everything)
    for wanted in (
        *victim.file_ids,
        *victim.malware_scan_ids,
        victim.media_id,
        victim.key_id,
        *victim.evidence,
    ):
        assert wanted in urls, wanted
    # A's notifications are listed to A (they name A's files).
    listed = next(s for s in mine if urlsplit(s.url).path == "/api/notifications")
    for notification_id in victim.notification_ids:
        assert notification_id.encode() in listed.body
    exports = {s.export: s for s in mine if s.export}
    assert set(exports) == _exports(victim)
    for (_, fmt), seen in exports.items():
        assert seen.body.startswith(b"%PDF-") == (fmt == "pdf"), seen.url
    # Each scan's exports name its file: the sample's identity is there, not its bytes.
    for scan_id, name, sha256 in zip(
        victim.malware_scan_ids, victim.file_names, victim.sha256s, strict=True
    ):
        for fmt in ("json", "csv", "pdf"):
            seen = exports[(f"/api/scan/{scan_id}/export", fmt)]
            assert name.encode() in seen.texts(tmp_path)[-1], (seen.url, name)
            if fmt != "pdf":
                assert sha256.encode() in seen.body, (seen.url, sha256)
    for fmt in ("json", "csv"):
        bulk = exports[("/api/scan/export", fmt)].body
        for wanted in (*victim.malware_scan_ids, *victim.file_names, *victim.sha256s):
            assert wanted.encode() in bulk, ("/api/scan/export", fmt, wanted)
    media = [exports[(f"/api/scans/{victim.media_id}/export", f)] for f in ("json", "csv", "pdf")]
    media += [exports[("/api/scans/export", f)] for f in ("json", "csv")]
    for seen in media:
        assert victim.media_name.encode() in seen.texts(tmp_path)[-1], seen.url


def test_staff_got_the_media_exports(everything: list[Seen], victim: Victim) -> None:
    """Analysts and admins see A's media scan, so their exports carry it (and were searched
    like the owner's); A's malware scans are not theirs to export."""
    for sweep in ("analyst", "admin"):
        exports = {s.export: s for s in everything if s.sweep == sweep and s.export}
        assert set(exports) == _exports(victim), sweep
        for (path, _), seen in exports.items():
            if path.startswith("/api/scan/") and path != "/api/scan/export":
                assert seen.status == 404, seen.url
            else:
                assert seen.status == 200, seen.url
        for fmt in ("json", "csv", "pdf"):
            single = exports[(f"/api/scans/{victim.media_id}/export", fmt)]
            assert single.body.startswith(b"%PDF-") == (fmt == "pdf"), single.url
        for fmt in ("json", "csv"):
            assert victim.media_id.encode() in exports[("/api/scans/export", fmt)].body
            malware = exports[("/api/scan/export", fmt)].body
            for wanted in (*victim.malware_scan_ids, *victim.file_names):
                assert wanted.encode() not in malware, (sweep, fmt, wanted)


def _exports(victim: Victim) -> set[tuple[str, str]]:
    """Every export the sweep makes with A's ids, in every format the schema offers."""
    single = ("json", "csv", "pdf")
    scans = [*(f"/api/scan/{scan_id}/export" for scan_id in victim.malware_scan_ids)]
    scans.append(f"/api/scans/{victim.media_id}/export")
    bulk = ("/api/scan/export", "/api/scans/export")
    return {
        *((path, f) for path in scans for f in single),
        *((path, f) for path in bulk for f in ("json", "csv")),
        ("/api/admin/audit/export", "csv"),
    }


def _forbidden_bytes(victim: Victim, *, media: bool = True) -> list[bytes]:
    contents = (*victim.contents, victim.media_content) if media else victim.contents
    markers = [m for m in victim.markers if media or m not in victim.media_content]
    return [
        *markers,
        *(base64.b64encode(c) for c in contents),
        *(base64.b64encode(c)[:60] for c in contents),  # the first line, if wrapped
        *(c.hex().encode() for c in contents),
        *(m.hex().encode() for m in markers),
    ]


def test_no_answer_carries_a_stored_sample(
    everything: list[Seen], victim: Victim, tmp_path: Path
) -> None:
    """One deliberate exception (docs/architecture.md#serving-what-was-analysed): a media
    scan's own picture, video or recording, exactly as analysed, to those who read the
    scan. Uploaded files as such (the malware samples) are never served, not even there."""
    shown = f"/api/scans/{victim.media_id}/file"
    served = [s for s in everything if urlsplit(s.url).path == shown]
    assert sorted(s.sweep for s in served) == ["admin", "analyst", "owner"]
    for seen in served:
        assert (seen.status, seen.body) == (200, victim.media_content), seen.sweep
    everywhere, there = _forbidden_bytes(victim), _forbidden_bytes(victim, media=False)
    for seen in everything:
        forbidden = there if urlsplit(seen.url).path == shown else everywhere
        for text in seen.texts(tmp_path):
            for marker in forbidden:
                assert marker not in text, (seen.sweep, seen.url, marker[:40])


def test_evidence_is_a_picture_made_by_the_service(everything: list[Seen], victim: Victim) -> None:
    evidence = [s for s in everything if "/evidence/" in s.url and s.sweep == "owner"]
    assert len(evidence) == len(victim.evidence)
    for seen in evidence:
        assert seen.body.startswith(b"\x89PNG\r\n\x1a\n"), seen.url
        assert seen.body != victim.media_content


def test_no_answer_or_log_line_carries_a_key_value(
    everything: list[Seen], victim: Victim, tmp_path: Path, log_capture: LogCapture
) -> None:
    value = victim.key_value.encode()
    for form in (value, base64.b64encode(value), value.hex().encode()):
        for seen in everything:
            for text in seen.texts(tmp_path):
                assert form not in text, (seen.sweep, seen.url)
        assert form.decode() not in log_capture.text()


@pytest.fixture
def key_api(server: LiveServer, victim: Victim) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with httpx.Client(base_url=server.url, timeout=30) as api:
        yield api, victim.account.headers


def test_refusals_never_echo_a_key_value(
    key_api: tuple[httpx.Client, dict[str, str]], victim: Victim, log_capture: LogCapture, vt: Any
) -> None:
    """Errors about a key (VirusTotal refusing it, validation, malformed JSON) do not
    quote the value back, nor log it."""
    api, owner = key_api
    unknown = f"vtunknown{victim.key_value[9:]}"  # VirusTotal does not know this one
    answers = [
        api.post("/api/keys/", headers=owner, json={"name": "n", "key_value": unknown}),
        api.post("/api/keys/validate", headers=owner, json={"key_value": unknown}),
        api.post(
            "/api/keys/", headers=owner, json={"name": "n" * 101, "key_value": victim.key_value}
        ),
        api.post(
            "/api/keys/",
            headers=owner,
            json={"name": "n", "key_value": victim.key_value + " \u00e9"},
        ),
        api.post("/api/keys/", headers=owner, json={"key_value": victim.key_value, "name": ""}),
        api.put(f"/api/keys/{victim.key_id}", headers=owner, json={"key_value": unknown}),
        api.post(
            "/api/keys/",
            headers={**owner, "content-type": "application/json"},
            content=f'{{"name": "n", "key_value": "{victim.key_value}"'.encode(),
        ),
    ]
    assert_envelope(answers[0], 400)
    assert answers[1].status_code == 200 and answers[1].json()["valid"] is False
    assert_envelope(answers[5], 400)
    for response in answers[2:5]:
        assert_envelope(response, 400, "VALIDATION_ERROR")
    assert_envelope(answers[6], 400, "VALIDATION_ERROR")
    for response in answers:
        for value in (victim.key_value, unknown):
            assert value not in response.text, response.text
    for value in (victim.key_value, unknown):
        assert value not in log_capture.text()
    # The refused replacement left the working key as it was.
    key = api.get(f"/api/keys/{victim.key_id}", headers=owner).json()["api_key"]
    assert key["is_active"] is True
