"""Files over HTTP: streamed uploads, hashes, type sniffing, dedupe, limits, ownership."""

from __future__ import annotations

import hashlib
import io
import socket
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Account, assert_envelope, blob_files
from tests.live import LiveServer, live_server
from veriscan.files.models import Blob, File

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def upload(
    api: httpx.Client, account: Account, content: bytes, name: str = "test_file.txt"
) -> httpx.Response:
    return api.post("/api/files/upload", headers=account.headers, files={"file": (name, content)})


def blob_path(server: LiveServer, sha256: str) -> object:
    return server.context.blobs.path_for(sha256)


def tmp_entries(server: LiveServer) -> list[str]:
    return sorted(p.name for p in server.context.blobs.tmp_dir.iterdir())


def records_with(server: LiveServer, sha256: str) -> int:
    with server.context.db.session(writes=False) as session:
        return (
            session.scalar(select(func.count()).select_from(File).where(File.hash_sha256 == sha256))
            or 0
        )


def test_upload_hashes_and_stores(api: httpx.Client, account: Account, server: LiveServer) -> None:
    content = b"hello veriscan\n" * 1000 + uuid.uuid4().hex.encode()
    response = upload(api, account, content)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "test_file.txt"
    assert body["file_size"] == len(content)
    assert body["mime_type"] == "text/plain"
    assert body["hash_md5"] == hashlib.md5(content).hexdigest()
    assert body["hash_sha1"] == hashlib.sha1(content).hexdigest()
    assert body["hash_sha256"] == hashlib.sha256(content).hexdigest()
    assert body["upload_date"].endswith("Z")
    stored = server.context.blobs.path_for(body["hash_sha256"])
    assert stored.read_bytes() == content
    assert tmp_entries(server) == []


def test_an_empty_file_is_refused(api: httpx.Client, account: Account) -> None:
    # Nothing to scan: almost surely an upload that failed on the client's side.
    error = assert_envelope(upload(api, account, b"", "empty.bin"), 400, "EMPTY_FILE")
    assert error["message"] == "The file is empty"


def test_mime_type_comes_from_the_content(api: httpx.Client, account: Account) -> None:
    assert upload(api, account, PNG_1x1, "holiday.txt").json()["mime_type"] == "image/png"
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    assert upload(api, account, pdf, "invoice.exe").json()["mime_type"] == "application/pdf"
    zip_bytes = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(zip_bytes, "w") as archive:
        archive.writestr("a.txt", "hello")
    assert (
        upload(api, account, zip_bytes.getvalue(), "notes.txt").json()["mime_type"]
        == "application/zip"
    )


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\evil.exe", "evil.exe"),
        ("ok name (1).txt", "ok name (1).txt"),
        ("semi;colon|pipe<>.txt", "semi;colonpipe.txt"),
        ("..", "unnamed"),
        ("re\u0301sume\u0301.pdf", "r\u00e9sum\u00e9.pdf"),
        ("a" * 300 + ".txt", "a" * 255),
    ],
)
def test_file_names_are_sanitised(
    api: httpx.Client, account: Account, given: str, kept: str
) -> None:
    response = upload(api, account, b"content", given)
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == kept


def test_control_characters_are_dropped_from_names(api: httpx.Client, account: Account) -> None:
    body = (
        b"--B\r\nContent-Disposition: form-data; "
        b'name="file"; filename="tab\tbell\x07del\x7f.txt"\r\n\r\n'
        b"data\r\n--B--\r\n"
    )
    response = api.post(
        "/api/files/upload",
        headers={**account.headers, "content-type": "multipart/form-data; boundary=B"},
        content=body,
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "tabbelldel.txt"


def test_same_content_is_stored_once_and_removed_with_its_last_record(
    api: httpx.Client, make_account: Callable[..., Account], server: LiveServer
) -> None:
    alice, bob = make_account(), make_account()
    content = b"shared content " + uuid.uuid4().bytes
    sha = hashlib.sha256(content).hexdigest()
    first = upload(api, alice, content, "a.txt").json()
    second = upload(api, alice, content, "b.txt").json()
    third = upload(api, bob, content, "c.txt").json()
    assert len({first["id"], second["id"], third["id"]}) == 3
    assert [p for p in blob_files(server.settings.data_dir) if p.name == sha] == [
        server.context.blobs.path_for(sha)
    ]
    with server.context.db.session(writes=False) as session:
        blob = session.get(Blob, sha)
        assert blob is not None and blob.ref_count == 3

    assert api.delete(f"/api/files/{first['id']}", headers=alice.headers).status_code == 200
    assert api.delete(f"/api/files/{third['id']}", headers=bob.headers).status_code == 200
    assert server.context.blobs.path_for(sha).exists()
    assert api.delete(f"/api/files/{second['id']}", headers=alice.headers).status_code == 200
    assert not server.context.blobs.path_for(sha).exists()
    assert records_with(server, sha) == 0
    with server.context.db.session(writes=False) as session:
        assert session.get(Blob, sha) is None
    assert tmp_entries(server) == []


def test_list_get_and_delete(api: httpx.Client, account: Account) -> None:
    ids = [upload(api, account, f"file {i}".encode(), f"f{i}.txt").json()["id"] for i in range(3)]
    listed = api.get("/api/files/", headers=account.headers)
    assert listed.status_code == 200
    assert [f["id"] for f in listed.json()] == list(reversed(ids))
    assert api.get("/api/files", headers=account.headers).json() == listed.json()
    one = api.get(f"/api/files/{ids[0]}", headers=account.headers)
    assert one.status_code == 200 and one.json()["filename"] == "f0.txt"
    deleted = api.delete(f"/api/files/{ids[0]}", headers=account.headers)
    assert deleted.status_code == 200 and deleted.json() == {"message": "File deleted successfully"}
    assert_envelope(api.get(f"/api/files/{ids[0]}", headers=account.headers), 404, "NOT_FOUND")
    assert_envelope(api.delete(f"/api/files/{ids[0]}", headers=account.headers), 404, "NOT_FOUND")


def test_the_list_pages_on_request_and_always_says_its_total(
    api: httpx.Client, account: Account
) -> None:
    """The document's array by default; with page and per_page, one page of it; the
    total in X-Total-Count either way (filters included)."""
    ids = [upload(api, account, f"paged {i}".encode(), f"p{i}.txt").json()["id"] for i in range(5)]
    newest_first = list(reversed(ids))
    whole = api.get("/api/files/", headers=account.headers)
    assert whole.headers["x-total-count"] == "5"
    assert whole.headers["content-type"] == "application/json"
    assert [f["id"] for f in whole.json()] == newest_first
    pages = [
        api.get("/api/files/", headers=account.headers, params={"page": n, "per_page": 2})
        for n in (1, 2, 3, 4)
    ]
    assert [[f["id"] for f in page.json()] for page in pages] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:],
        [],
    ]
    assert {page.headers["x-total-count"] for page in pages} == {"5"}
    # One of the two given: the other takes its default (page 1; 20 a page).
    assert [
        f["id"]
        for f in api.get("/api/files/", headers=account.headers, params={"per_page": 3}).json()
    ] == newest_first[:3]
    assert len(api.get("/api/files/", headers=account.headers, params={"page": 1}).json()) == 5
    filtered = api.get(
        "/api/files/", headers=account.headers, params={"search": "p3", "per_page": 1}
    )
    assert filtered.headers["x-total-count"] == "1" and filtered.json()[0]["id"] == ids[3]
    # Every field as GET /api/files/{id} gives it.
    assert whole.json()[0] == api.get(f"/api/files/{ids[-1]}", headers=account.headers).json()
    for bad in ({"page": 0}, {"per_page": 0}, {"per_page": 1001}, {"page": "x"}):
        assert_envelope(api.get("/api/files/", headers=account.headers, params=bad), 400)


def test_id_format_errors(api: httpx.Client, account: Account) -> None:
    assert_envelope(api.get("/api/files/not-a-uuid", headers=account.headers), 404, "NOT_FOUND")
    assert_envelope(
        api.delete("/api/files/not-a-uuid", headers=account.headers), 400, "VALIDATION_ERROR"
    )


def test_another_user_gets_404_for_my_file(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner, other, admin = make_account(), make_account(), make_account("admin")
    file_id = upload(api, owner, b"private").json()["id"]
    for intruder in (other, admin):
        assert_envelope(api.get(f"/api/files/{file_id}", headers=intruder.headers), 404)
        assert_envelope(api.delete(f"/api/files/{file_id}", headers=intruder.headers), 404)
        assert file_id not in api.get("/api/files/", headers=intruder.headers).text
    assert api.get(f"/api/files/{file_id}", headers=owner.headers).status_code == 200


def test_every_file_endpoint_needs_a_token(api: httpx.Client) -> None:
    assert_envelope(api.post("/api/files/upload", files={"file": ("a.txt", b"x")}), 401)
    assert_envelope(api.get("/api/files/"), 401)
    assert_envelope(api.get(f"/api/files/{uuid.uuid4()}"), 401)
    assert_envelope(api.delete(f"/api/files/{uuid.uuid4()}"), 401)


def test_missing_parts_and_bad_bodies(
    api: httpx.Client, account: Account, server: LiveServer
) -> None:
    no_file = api.post(
        "/api/files/upload", headers=account.headers, files={"other": ("a.txt", b"x")}
    )
    assert_envelope(no_file, 400, "VALIDATION_ERROR")
    only_fields = api.post(
        "/api/files/upload", headers=account.headers, data={"note": "hi"}, files={"x": ("", b"")}
    )
    assert_envelope(only_fields, 400)
    no_name = api.post("/api/files/upload", headers=account.headers, files={"file": ("", b"")})
    assert assert_envelope(no_name, 400)["message"] == "No selected file"
    not_multipart = api.post("/api/files/upload", headers=account.headers, json={"file": "x"})
    assert_envelope(not_multipart, 400)
    truncated = api.post(
        "/api/files/upload",
        headers={**account.headers, "content-type": "multipart/form-data; boundary=XYZ"},
        content=b"--XYZ\r\nContent-Disposition: form-data; "
        b'name="file"; filename="a.txt"\r\n\r\nhalf a file',
    )
    assert_envelope(truncated, 400)
    garbage = api.post(
        "/api/files/upload",
        headers={**account.headers, "content-type": "multipart/form-data; boundary=XYZ"},
        content=b"\x00\xff" * 1000,
    )
    assert_envelope(garbage, 400)
    two_files = api.post(
        "/api/files/upload",
        headers=account.headers,
        files=[("file", ("a", b"1")), ("file", ("b", b"2"))],
    )
    assert_envelope(two_files, 400)
    assert tmp_entries(server) == []
    assert api.get("/api/files/", headers=account.headers).json() == []


@pytest.fixture(scope="module")
def small_server(settings_factory: Callable[..., object]) -> Iterator[LiveServer]:
    with live_server(settings_factory(max_upload_mb=1)) as live:  # type: ignore[arg-type]
        yield live


def test_over_the_limit_is_400_and_leaves_nothing(
    small_server: LiveServer, make_account: Callable[..., Account]
) -> None:
    account = make_account(on=small_server)
    limit = 1024 * 1024
    with httpx.Client(base_url=small_server.url, timeout=30) as client:
        at_limit = upload(client, account, b"a" * limit)
        assert at_limit.status_code == 201
        for size in (limit + 1, limit + 40_000):  # streamed, then refused part-way
            content = uuid.uuid4().bytes * (size // 16 + 1)
            response = upload(client, account, content[:size])
            error = assert_envelope(response, 400, "FILE_TOO_LARGE")
            assert "1 MB" in error["message"]
            assert not small_server.context.blobs.path_for(
                hashlib.sha256(content[:size]).hexdigest()
            ).exists()
        # Declared far over the limit: refused before the body is read.
        big = b"b" * (3 * limit)
        assert_envelope(upload(client, account, big), 400, "FILE_TOO_LARGE")
        assert len(client.get("/api/files/", headers=account.headers).json()) == 1
    assert tmp_entries(small_server) == []


def test_a_client_that_disconnects_mid_upload_leaves_nothing(
    server: LiveServer, account: Account, api: httpx.Client
) -> None:
    boundary = "disconnect-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    declared = len(head) + 10_000_000
    request = (
        "POST /api/files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {account.access_token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(request + head + b"x" * 3_000_000)
        time.sleep(0.3)
        assert len(tmp_entries(server)) == 1  # the upload was under way
    deadline = time.monotonic() + 5
    while tmp_entries(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tmp_entries(server) == []
    assert api.get("/api/files/", headers=account.headers).json() == []
