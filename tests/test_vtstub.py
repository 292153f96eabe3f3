"""The VirusTotal stand-in itself, exercised over real HTTP as the service will use it."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.vtstub import EICAR, ENGINES, SUSPICIOUS_MARKER, VirusTotalStub, start_stub
from tests.vtstub.engines import Content, scan

KEY = "k" * 64


@contextmanager
def running(**options: Any) -> Iterator[tuple[VirusTotalStub, httpx.Client]]:
    """A started stub with KEY registered (unlimited unless the test says), and a client."""
    limits = {
        "per_minute": options.pop("per_minute", None),
        "per_day": options.pop("per_day", None),
    }
    with start_stub(**options) as stub:
        stub.add_key(KEY, **limits)
        with httpx.Client(base_url=stub.url, headers={"x-apikey": KEY}, timeout=10) as client:
            yield stub, client


def upload(client: httpx.Client, content: bytes, url: str = "/files") -> httpx.Response:
    return client.post(url, files={"file": ("sample.bin", content)})


def poll(client: httpx.Client, analysis_id: str) -> dict[str, Any]:
    response = client.get(f"/analyses/{analysis_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_keys_valid_wrong_and_missing() -> None:
    with running(per_minute=5) as (stub, client):
        user = client.get(f"/users/{KEY}")
        assert user.status_code == 200, user.text
        data = user.json()["data"]
        assert data["type"] == "user"
        assert data["attributes"]["apikey"] == KEY
        quotas = data["attributes"]["quotas"]
        assert set(quotas) == {"api_requests_hourly", "api_requests_daily", "api_requests_monthly"}
        # Reading it is a request like any other: it counts (this one included).
        assert quotas["api_requests_hourly"] == {"allowed": 300, "used": 1}
        # By user id too.
        assert client.get(f"/users/{data['id']}").status_code == 200
        assert client.get(f"/users/{KEY}").status_code == 200
        assert stub.usage(KEY)["minute"] == 3

        wrong = client.get(f"/users/{KEY}", headers={"x-apikey": "not-a-key"})
        assert_error(wrong, 401, "WrongCredentialsError")
        assert wrong.json()["error"]["message"] == "Wrong API key"
        with httpx.Client(base_url=stub.url, timeout=10) as anonymous:
            assert_error(anonymous.get("/files/" + "0" * 64), 401, "AuthenticationRequiredError")

        stub.add_key("other", per_minute=None)
        assert_error(client.get("/users/other"), 403, "ForbiddenError")
        assert_error(client.get("/users/nobody"), 404, "NotFoundError")

        assert stub.requests[3][:3] == ("GET", f"/api/v3/users/{KEY}", "not-a-key")
        assert stub.requests[4].key is None
        assert stub.quota_violations == 0


def test_quota_per_minute_is_enforced_and_recovers() -> None:
    with running(per_minute=2, minute_seconds=0.5) as (stub, client):
        unknown = "/files/" + "0" * 64
        assert_error(client.get(unknown), 404, "NotFoundError")
        assert_error(client.get(unknown), 404, "NotFoundError")
        assert_error(client.get(unknown), 429, "QuotaExceededError")
        assert stub.quota_violations == 1
        assert stub.usage(KEY)["minute"] == 2  # the refused request consumed nothing
        # Reading the user object is a request too: refused while the minute is full.
        assert_error(client.get(f"/users/{KEY}"), 429, "QuotaExceededError")
        time.sleep(0.55)
        quotas = client.get(f"/users/{KEY}").json()["data"]["attributes"]["quotas"]
        assert quotas["api_requests_daily"]["used"] == 3
        assert_error(client.get(unknown), 404, "NotFoundError")
        assert stub.quota_violations == 2


def test_quota_per_day_is_enforced_and_resets() -> None:
    with running(per_day=3, day_seconds=0.8) as (stub, client):
        statuses = [client.get("/files/" + "0" * 64).status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        time.sleep(0.85)
        assert client.get("/files/" + "0" * 64).status_code == 404
        assert stub.quota_violations == 1


def test_unknown_file_then_upload_then_polls_until_eicar_is_detected() -> None:
    content = b"prefix " + EICAR + b" suffix"
    sha256 = hashlib.sha256(content).hexdigest()
    md5 = hashlib.md5(content).hexdigest()
    with running() as (stub, client):
        assert_error(client.get(f"/files/{sha256}"), 404, "NotFoundError")

        submitted = upload(client, content)
        assert submitted.status_code == 200, submitted.text
        descriptor = submitted.json()["data"]
        assert descriptor["type"] == "analysis"
        assert descriptor["links"]["self"] == f"{stub.url}/analyses/{descriptor['id']}"
        # VirusTotal's file analysis ids are base64("<md5>:<unix time>").
        assert base64.b64decode(descriptor["id"]).decode().startswith(md5 + ":")

        first = poll(client, descriptor["id"])
        assert first["data"]["attributes"]["status"] == "queued"
        assert first["data"]["attributes"]["results"] == {}
        assert first["meta"]["file_info"] == {
            "sha256": sha256,
            "sha1": hashlib.sha1(content).hexdigest(),
            "md5": md5,
            "size": len(content),
        }
        # Not findable by hash until the analysis has completed.
        assert client.get(f"/files/{sha256}").status_code == 404
        second = poll(client, descriptor["id"])["data"]["attributes"]
        assert second["status"] == "in-progress"
        assert 0 < len(second["results"]) < len(ENGINES)
        done = poll(client, descriptor["id"])["data"]["attributes"]
        assert done["status"] == "completed"
        assert set(done["results"]) == {engine.name for engine in ENGINES}
        for name, result in done["results"].items():
            assert result["category"] == "malicious", name
            assert result["engine_name"] == name
            assert result["result"]
            assert set(result) == {
                "category",
                "engine_name",
                "engine_version",
                "engine_update",
                "method",
                "result",
            }
        assert done["stats"]["malicious"] == len(ENGINES)
        assert set(done["stats"]) == {
            "malicious",
            "suspicious",
            "undetected",
            "harmless",
            "timeout",
            "confirmed-timeout",
            "failure",
            "type-unsupported",
        }

        for file_id in (sha256, md5, hashlib.sha1(content).hexdigest()):
            found = client.get(f"/files/{file_id}")
            assert found.status_code == 200, found.text
            file = found.json()["data"]
            assert file["type"] == "file"
            assert file["id"] == sha256
            attributes = file["attributes"]
            assert attributes["last_analysis_stats"]["malicious"] == len(ENGINES)
            assert attributes["last_analysis_date"] == done["date"]
            assert attributes["size"] == len(content)
            assert attributes["names"] == ["sample.bin"]
        assert stub.uploads == [sha256]


def test_verdicts_follow_the_content() -> None:
    def categories(content: bytes, **options: Any) -> dict[str, str]:
        info = Content.of_bytes(content)
        return {name: r["category"] for name, r in scan(info, **options).items()}

    assert set(categories(b"harmless text").values()) == {"undetected"}
    suspicious = categories(b"xx" + SUSPICIOUS_MARKER)
    assert sorted(n for n, c in suspicious.items() if c == "suspicious") == [
        "StubAV-Charlie",
        "StubAV-Delta",
    ]
    assert [n for n, c in categories(b"").items() if c != "undetected"] == ["StubAV-Echo"]
    assert categories(b"")["StubAV-Echo"] == "type-unsupported"
    slow = categories(EICAR, slow_engine=True)
    assert slow["StubAV-Hotel"] == "timeout"
    assert list(slow.values()).count("malicious") == len(ENGINES) - 1

    # Streamed hashing finds a marker split across two read chunks.
    blob = b"A" * (1024 * 1024 - 10) + EICAR + b"B" * 100
    streamed = Content.of_stream(io.BytesIO(blob))
    assert streamed == Content.of_bytes(blob)
    assert streamed.has_eicar


def test_slow_engine_and_empty_files_over_http() -> None:
    with running(polls_until_complete=0, slow_engine=True) as (_stub, client):
        analysis_id = upload(client, b"").json()["data"]["id"]
        results = poll(client, analysis_id)["data"]["attributes"]["results"]
        assert results["StubAV-Echo"]["category"] == "type-unsupported"
        assert results["StubAV-Hotel"]["category"] == "timeout"
        assert results["StubAV-Hotel"]["result"] is None


def test_upload_url_works_once() -> None:
    with running(per_minute=5) as (stub, client):
        answer = client.get("/files/upload_url")
        assert answer.status_code == 200, answer.text
        url = answer.json()["data"]
        assert url.startswith(stub.origin + "/upload/")
        # The upload URL is used as is: no key needed, no quota consumed.
        with httpx.Client(timeout=10) as bare:
            first = upload(bare, EICAR, url)
            assert first.status_code == 200, first.text
            assert first.json()["data"]["type"] == "analysis"
            assert_error(upload(bare, EICAR, url), 404, "NotFoundError")
        assert stub.usage(KEY)["minute"] == 1
        assert stub.uploads == [hashlib.sha256(EICAR).hexdigest()]


def test_too_large_uploads_are_refused_with_413() -> None:
    with running(max_direct_upload=1024, max_large_upload=2048) as (stub, client):
        assert upload(client, b"x" * 1024).status_code == 200
        assert_error(upload(client, b"x" * 1025), 413, "RequestEntityTooLargeError")
        # Far past the limit, the client still gets the answer rather than a reset.
        assert_error(upload(client, b"x" * (3 * 1024 * 1024)), 413, "RequestEntityTooLargeError")
        url = client.get("/files/upload_url").json()["data"]
        assert_error(upload(client, b"x" * 2049, url), 413, "RequestEntityTooLargeError")
        assert_error(client.post("/files", content=b"raw"), 400, "BadRequestError")
        assert_error(client.post("/files", files={"other": ("a", b"1")}), 400, "BadRequestError")
        assert len(stub.uploads) == 1


def test_fail_next_injects_errors_without_consuming_quota() -> None:
    with running(per_minute=3) as (stub, client):
        sha256 = stub.preload(b"known")
        stub.fail_next(2)
        assert_error(client.get(f"/files/{sha256}"), 503, "TransientError")
        assert_error(client.get(f"/files/{sha256}"), 503, "TransientError")
        assert client.get(f"/files/{sha256}").status_code == 200

        # A path prefix, given with or without the /api/v3 base, picks the requests to fail.
        stub.fail_next(1, status=500, code="InternalError", path_prefix="/analyses")
        stub.fail_next(1, status=502, code="BadGateway", path_prefix="/api/v3/analyses")
        assert client.get(f"/files/{sha256}").status_code == 200
        analysis = f"/analyses/{stub.last_analysis_id(sha256)}"
        assert_error(client.get(analysis), 500, "InternalError")
        assert_error(client.get(analysis), 502, "BadGateway")
        assert client.get(analysis).status_code == 200
        assert stub.usage(KEY)["minute"] == 3
        assert stub.quota_violations == 0


def test_preload_and_reanalysis() -> None:
    with running() as (stub, client):
        sha256 = stub.preload(EICAR, name="eicar.com")
        found = client.get(f"/files/{sha256}")
        assert found.status_code == 200, found.text
        attributes = found.json()["data"]["attributes"]
        assert attributes["last_analysis_stats"]["malicious"] == len(ENGINES)
        assert attributes["meaningful_name"] == "eicar.com"

        first_id = stub.last_analysis_id(sha256)
        again = client.post(f"/files/{sha256}/analyse")
        assert again.status_code == 200, again.text
        assert again.json()["data"]["type"] == "analysis"
        assert again.json()["data"]["id"] not in (None, first_id)
        assert stub.last_analysis_id(sha256) == again.json()["data"]["id"]
        assert_error(client.post("/files/" + "f" * 64 + "/analyse"), 404, "NotFoundError")
        assert stub.uploads == []


def test_analyses_can_complete_with_time() -> None:
    with running(polls_until_complete=100, complete_after_seconds=0.2) as (_stub, client):
        sha256 = hashlib.sha256(b"clean").hexdigest()
        analysis_id = upload(client, b"clean").json()["data"]["id"]
        assert client.get(f"/files/{sha256}").status_code == 404
        time.sleep(0.25)
        assert client.get(f"/files/{sha256}").status_code == 200
        assert poll(client, analysis_id)["data"]["attributes"]["status"] == "completed"


def test_unknown_routes_and_wrong_methods() -> None:
    with running() as (_stub, client):
        assert_error(client.get("/nothing/here"), 404, "NotFoundError")
        assert_error(client.get("/analyses/bm9wZTox"), 404, "NotFoundError")
        wrong = client.delete("/files/" + "0" * 64)
        assert_error(wrong, 405, "MethodNotAllowedError")
        assert wrong.headers["allow"] == "GET"
        assert_error(client.post("/files/upload_url"), 405, "MethodNotAllowedError")


def test_offline_refuses_connections_and_comes_back() -> None:
    with running() as (stub, client):
        sha256 = stub.preload(b"kept")
        stub.set_offline(True)
        with pytest.raises(httpx.ConnectError):
            client.get(f"/files/{sha256}")
        stub.set_offline(False)
        assert client.get(f"/files/{sha256}").status_code == 200


def test_concurrent_requests_are_all_recorded() -> None:
    with running() as (stub, client):

        def hammer() -> None:
            for _ in range(10):
                client.get("/files/" + "0" * 64)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(stub.requests) == 40
        assert stub.usage(KEY)["minute"] == 40
