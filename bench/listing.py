"""What scan visibility grants cost the listings, on a database with many rows.

One operative lists their malware scans (GET /api/scan/results, per_page=20, default sort)
and their media scans (GET /api/scans/history, limit=20) over real HTTP, with `scope=own`
(their own scans: no grant subquery) and `scope=all` (own, plus shared with them, assigned
to them and in the cases they take part in: scans.access.granted). The database is
seeded with SQLAlchemy Core bulk inserts: by default 50 users x 2,000 malware scans (each
with its file) and 20,000 media scans; the measured operative owns 2,000 malware and 400
media scans, and has 200 + 50 shared with them, 20 + 5 assigned, and is a member of 10
cases holding 50 malware + 10 media scans each. The other users have grants among
themselves of the same shape, so the grant tables are not tiny.

One `veriscan serve` process (rate limit off, cheap Argon2, no scan workers) per database:
SQLite in a temp data dir, then PostgreSQL in a fresh database (created and dropped) when
--database-url is given. Prints numbers and never fails:

    python bench/listing.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                            [--requests 200] [--users 50] [--scans-per-user 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from sqlalchemy import Engine, event, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    drop_pg_database,
    file_row,
    job_columns,
    malware_scan_row,
    new_pg_database,
    pg_reachable,
)
from tests.distributed.cluster import Cluster

import veriscan.cases.access  # noqa: F401 - registers the case grant the explained queries read
from veriscan.accounts.models import User
from veriscan.cases.models import Case, CaseMember, CaseScan
from veriscan.core.db import make_engine
from veriscan.core.migrate import upgrade
from veriscan.files.models import Blob, File
from veriscan.malware.models import MalwareScan
from veriscan.malware.repository import ScanFilters, ScanRepository
from veriscan.media.models import MediaScan
from veriscan.sharing.models import ScanAssignment, ScanShare

PASSWORD = "bench-password-123"  # noqa: S105 - an account made for the run
WARMUP = 20
BATCH = 5000
GOAL_MS = 30  # issue 16: p95 of every listing request
GOAL_SETTLE_MIB = 50  # issue 16: RSS after the listings, against before them
SETTLE_SECONDS = 5.0
NOW = datetime.now(UTC)

# The measured operative's grants (the other users get the same shape among themselves).
SHARED_MALWARE, SHARED_MEDIA = 200, 50
ASSIGNED_MALWARE, ASSIGNED_MEDIA = 20, 5
CASES, CASE_MALWARE, CASE_MEDIA = 10, 50, 10


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def bulk(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(table), rows[start : start + BATCH])


def ago(rng: random.Random) -> datetime:
    return NOW - timedelta(seconds=rng.uniform(0, 365 * 86400))


def seed(
    engine: Engine,
    operative: uuid.UUID,
    users: int,
    per_user: int,
    media: int,
    own_malware: int,
    own_media: int,
) -> None:
    """Everything but the operative (who signed up through the API) with Core inserts: the
    operative owns `own_malware` malware and `own_media` media scans, each other user
    `per_user` malware scans and a share of the other `media` media scans."""
    rng = random.Random(7)
    others = [uuid.uuid4() for _ in range(users - 1)]
    bulk(
        engine,
        User.__table__,
        [
            {
                "id": uid,
                "username": f"user{i}",
                "email": f"user{i}@example.com",
                "name": f"User {i}",
                "password_hash": "!",
                "role": "operative",
                "is_active": True,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i, uid in enumerate(others)
        ],
    )
    everyone = [operative, *others]
    blobs = [secrets.token_hex(32) for _ in range(1000)]
    bulk(
        engine,
        Blob.__table__,
        [{"sha256": s, "size": 4096, "ref_count": 1, "created_at": NOW} for s in blobs],
    )
    files, scans = [], []
    malware_by_user: dict[uuid.UUID, list[uuid.UUID]] = {u: [] for u in everyone}
    for uid in everyone:
        for _ in range(own_malware if uid == operative else per_user):
            created = ago(rng)
            sha = rng.choice(blobs)
            file_id, scan_id = uuid.uuid4(), uuid.uuid4()
            malware_by_user[uid].append(scan_id)
            files.append(file_row(file_id, uid, sha, f"sample-{scan_id.hex[:8]}.exe", created))
            malicious = rng.randint(0, 5)
            scans.append(
                malware_scan_row(
                    scan_id, uid, file_id, sha, created, malicious=malicious, engines=60
                )
            )
        if len(scans) >= 4 * BATCH:  # in slices: 100,000 rows of dicts add up
            bulk(engine, File.__table__, files)
            bulk(engine, MalwareScan.__table__, scans)
            files, scans = [], []
    bulk(engine, File.__table__, files)
    bulk(engine, MalwareScan.__table__, scans)
    del files, scans

    media_by_user: dict[uuid.UUID, list[uuid.UUID]] = {u: [] for u in everyone}
    rows = []
    for index in range(own_media + media):
        # The operative's own first; the rest spread over the others.
        uid = operative if index < own_media else others[index % len(others)]
        scan_id = uuid.uuid4()
        media_by_user[uid].append(scan_id)
        score = rng.randint(0, 100)
        rows.append(
            {
                "id": scan_id,
                "user_id": uid,
                "file_name": f"clip-{scan_id.hex[:8]}.jpg",
                "media_type": rng.choice(["IMAGE", "VIDEO", "AUDIO"]),
                "mime_type": "image/jpeg",
                "file_size": 4096,
                "sha256": rng.choice(blobs),
                "tags": [],
                "tags_text": "",
                "status": "COMPLETED",
                "result": "DEEPFAKE" if score > 70 else "AUTHENTIC",
                "risk_score": score,
                "confidence": rng.randint(50, 100),
                "video_score": None,
                "audio_score": None,
                "gan_fingerprint": None,
                "temporal_consistency": None,
                "explanation": "",
                "metadata": {},
                "findings": [],
                "gps_latitude": None,
                "gps_longitude": None,
                **job_columns(ago(rng)),
            }
        )
    bulk(engine, MediaScan.__table__, rows)

    # Grants: every user gets the operative's shape from the others' scans.
    shares, assignments, assigned = [], [], set()
    cases, members, case_scans = [], [], []
    for uid in everyone:
        foreign_malware = [u for u in everyone if u != uid]

        def pick(by_user: dict[uuid.UUID, list[uuid.UUID]], n: int) -> list[tuple[Any, Any]]:
            out: set[tuple[Any, Any]] = set()
            while len(out) < n:
                owner = rng.choice(foreign_malware)  # noqa: B023 - used at once
                if by_user[owner]:
                    out.add((owner, rng.choice(by_user[owner])))
            return list(out)

        for kind, by_user, n in (
            ("malware", malware_by_user, SHARED_MALWARE),
            ("media", media_by_user, SHARED_MEDIA),
        ):
            for owner, sid in pick(by_user, n):
                shares.append(
                    {
                        "id": uuid.uuid4(),
                        "scan_kind": kind,
                        "scan_id": sid,
                        "user_id": uid,
                        "shared_by": owner,
                        "created_at": NOW,
                    }
                )
        for kind, by_user, n in (
            ("malware", malware_by_user, ASSIGNED_MALWARE),
            ("media", media_by_user, ASSIGNED_MEDIA),
        ):
            for owner, sid in pick(by_user, n):
                if (kind, sid) in assigned:
                    continue  # one assignee per scan
                assigned.add((kind, sid))
                assignments.append(
                    {
                        "scan_kind": kind,
                        "scan_id": sid,
                        "assignee_id": uid,
                        "assigned_by": owner,
                        "assigned_at": NOW,
                    }
                )
        # uid is a member of CASES cases owned by someone else, each with scans of its owner.
        for _ in range(CASES):
            owner = rng.choice(foreign_malware)
            case_id = uuid.uuid4()
            cases.append(
                {
                    "id": case_id,
                    "title": f"Case {case_id.hex[:6]}",
                    "description": "",
                    "status": "open",
                    "priority": "medium",
                    "owner_id": owner,
                    "created_by": owner,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "closed_at": None,
                }
            )
            members.append({"case_id": case_id, "user_id": uid, "added_by": owner, "added_at": NOW})
            for kind, by_user, n in (
                ("malware", malware_by_user, CASE_MALWARE),
                ("media", media_by_user, CASE_MEDIA),
            ):
                pool = by_user[owner]
                for sid in rng.sample(pool, min(n, len(pool))):
                    case_scans.append(
                        {
                            "case_id": case_id,
                            "scan_kind": kind,
                            "scan_id": sid,
                            "added_by": owner,
                            "added_at": NOW,
                        }
                    )
    bulk(engine, ScanShare.__table__, shares)
    bulk(engine, ScanAssignment.__table__, assignments)
    bulk(engine, Case.__table__, cases)
    bulk(engine, CaseMember.__table__, members)
    bulk(engine, CaseScan.__table__, case_scans)


def counts(engine: Engine) -> dict[str, int]:
    tables = [User, File, MalwareScan, MediaScan, ScanShare, ScanAssignment, Case, CaseMember]
    tables.append(CaseScan)
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.scalar(select(func.count()).select_from(t.__table__)) or 0
            for t in tables
        }


def explain(engine: Engine, operative: uuid.UUID) -> None:
    """The plans of the malware listing's statements as the repository runs them (caught
    on their way to the driver, then explained): the counts, the page's ids and its rows,
    for the last page with scope=own and scope=all."""
    from sqlalchemy.orm import Session

    postgres = engine.dialect.name == "postgresql"
    caught: list[tuple[str, str, Any]] = []
    label = ""

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        caught.append((label, statement, params))

    with Session(engine) as session:
        viewer = session.get(User, operative)
        assert viewer is not None
        repo = ScanRepository(session)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            for scope in ("own", "all"):
                total = repo.listing(viewer, ScanFilters(per_page=20, scope=scope))[1]
                label = f"scope={scope}, last page"
                repo.listing(viewer, ScanFilters(per_page=20, scope=scope, page=-(-total // 20)))
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN (ANALYZE, BUFFERS OFF) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        for name, statement, params in caught:
            if not name:
                continue
            rows = conn.exec_driver_sql(prefix + statement, params).all()
            first = " ".join(statement.split())[:90]
            print(
                f"\n{'EXPLAIN ANALYZE' if postgres else 'EXPLAIN QUERY PLAN'}, {name}: `{first}…`"
            )
            print("```")
            if postgres:
                print("\n".join(row[0] for row in rows))
            else:
                for row in rows:
                    print(f"{row[1]:>4} {row[2]:>4}  {row[3]}")
            print("```")


def listing_cases(file_id: str) -> dict[str, tuple[str, dict[str, str | int]]]:
    """Every sort of both listings, first and last page, both scopes; one file's scans."""
    cases: dict[str, tuple[str, dict[str, str | int]]] = {
        "profile (floor: auth + HTTP)": ("/api/auth/profile", {}),
    }
    for scope in ("own", "all"):
        for sort in ("scan_date", "detection_ratio"):
            for page in ("first", "last"):
                params: dict[str, str | int] = {"per_page": 20, "scope": scope, "sort_by": sort}
                params["page"] = page
                cases[f"malware, {scope}, {sort}, {page} page"] = ("/api/scan/results", params)
        for sort in ("date", "confidence", "riskScore", "fileName"):
            for page in ("first", "last"):
                params = {"limit": 20, "scope": scope, "sortBy": sort, "page": page}
                cases[f"media, {scope}, {sort}, {page} page"] = ("/api/scans/history", params)
    cases["one file's scans"] = (f"/api/scan/file/{file_id}", {})
    cases["files, first page"] = ("/api/files/", {"per_page": 20, "page": "first"})
    cases["files, last page"] = ("/api/files/", {"per_page": 20, "page": "last"})
    return cases


def _last_page(client: httpx.Client, path: str, params: dict[str, str | int]) -> int:
    first = client.get(path, params={**params, "page": 1})
    first.raise_for_status()
    if "x-total-count" in first.headers:  # GET /api/files/
        return -(-int(first.headers["x-total-count"]) // int(params["per_page"])) or 1
    body = first.json()
    if isinstance(body, list):  # a server that does not page GET /api/files/: all of it
        return 1
    pagination = body["pagination"]
    return int(pagination.get("total_pages", pagination.get("pages", 1))) or 1


def measure(
    url: str, token: str, requests: int, file_id: str, warmup: int = WARMUP
) -> dict[str, tuple[list[float], int]]:
    out = {}
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        for name, (path, given) in listing_cases(file_id).items():
            params = dict(given)
            if params.get("page") == "first":
                params["page"] = 1
            elif params.get("page") == "last":
                params["page"] = _last_page(client, path, params)
            total = 0
            for _ in range(warmup):
                client.get(path, params=params).raise_for_status()
            times = []
            for _ in range(requests):
                began = time.perf_counter()
                response = client.get(path, params=params)
                times.append(time.perf_counter() - began)
                response.raise_for_status()
            body = response.json()
            pagination = body.get("pagination", {}) if isinstance(body, dict) else {}
            total = pagination.get("total_items", pagination.get("total", 0))
            total = total or int(response.headers.get("x-total-count", 0))
            out[name] = (times, total)
    return out


def whole_files(url: str, token: str, popen: Any) -> None:
    """GET /api/files/ without paging: all of the operative's files in one streamed array.
    The server's resident memory before, at its peak during (sampled) and after."""
    process = psutil.Process(popen.pid)
    before = process.memory_info().rss
    peak = before
    began = time.perf_counter()
    size = count = 0
    with (
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c,
        c.stream("GET", "/api/files/") as response,
    ):
        response.raise_for_status()
        tail = b""
        for chunk in response.iter_bytes():
            size += len(chunk)
            # A file's last key, counted across the chunks' seams.
            count += (tail + chunk).count(b'"hash_sha256"') - tail.count(b'"hash_sha256"')
            tail = chunk[-16:]
            peak = max(peak, process.memory_info().rss)
    seconds = time.perf_counter() - began
    after = process.memory_info().rss
    mib = 1024 * 1024
    print(
        f"\nGET /api/files/ without paging: {count:,} files, {size / mib:.1f} MiB in "
        f"{seconds:.2f} s; server RSS {before / mib:.0f} MiB before, {peak / mib:.0f} at most "
        f"during, {after / mib:.0f} after"
    )


def run(name: str, workdir: Path, database_url: str, args: argparse.Namespace) -> None:
    cluster = Cluster.create(
        workdir,
        database_url=database_url,
        redis_url="",
        virustotal_url="http://127.0.0.1:9/api/v3",
        servers=1,
        workers=0,
        rate_limit="0",
        log_level="WARNING",
        password_hash_memory_kib="1024",  # noqa: S106 - a cost, not a secret
        password_hash_time_cost="1",  # noqa: S106
    )
    cluster.env["VERISCAN_WORKERS"] = "0"
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{(workdir / 'data' / 'veriscan.db').resolve()}"
    engine = make_engine(url)
    upgrade(engine)
    cluster.start_all()
    try:
        server = cluster.servers[0].url
        username = f"bench_{secrets.token_hex(3)}"
        httpx.post(
            f"{server}/api/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
            timeout=30,
        ).raise_for_status()
        login = httpx.post(
            f"{server}/api/auth/login",
            json={"username": username, "password": PASSWORD},
            timeout=30,
        )
        login.raise_for_status()
        token = login.json()["access_token"]
        with engine.connect() as conn:
            operative = conn.scalar(select(User.id).where(User.username == username))
        assert operative is not None
        began = time.monotonic()
        seed(
            engine,
            operative,
            args.users,
            args.scans_per_user,
            args.media,
            args.own_malware,
            args.own_media,
        )
        seeded = time.monotonic() - began
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load; the plans need the statistics.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            # What a serving process does at start and hourly (Database.refresh_statistics).
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        print(f"\n### {name}\n")
        print(
            f"seeded in {seeded:.0f} s; rows: "
            + ", ".join(f"{table} {n:,}" for table, n in counts(engine).items())
        )
        with engine.connect() as conn:
            file_id = conn.scalar(select(File.id).where(File.user_id == operative).limit(1))
        process = psutil.Process(cluster.servers[0].popen.pid)
        rss_start = process.memory_info().rss
        results = measure(server, token, args.requests, str(file_id), args.warmup)
        print(f"\n{args.requests} sequential requests per case after {args.warmup} warm-up ones:\n")
        print(f"| request | rows visible (total) | p50 ms | p95 ms (goal {GOAL_MS}) | mean ms |")
        print("|---|---:|---:|---:|---:|")
        for case, (times, total) in results.items():
            p95 = 1000 * percentile(times, 0.95)
            mark = "" if case.startswith("profile") or p95 < GOAL_MS else " **over**"
            print(
                f"| {case} | {total if total else ''} | {1000 * percentile(times, 0.5):.1f} | "
                f"{p95:.1f}{mark} | {1000 * sum(times) / len(times):.1f} |"
            )
        whole_files(server, token, cluster.servers[0].popen)
        rss_end = process.memory_info().rss
        time.sleep(SETTLE_SECONDS)
        rss_settled = process.memory_info().rss
        mib = 1024 * 1024
        grown = (rss_settled - rss_start) / mib
        print(
            f"\nserver RSS before the listings {rss_start / mib:.0f} MiB, after them and the "
            f"whole array {rss_end / mib:.0f}, {SETTLE_SECONDS:g} s later {rss_settled / mib:.0f}: "
            f"{grown:+.0f} MiB (goal: within {GOAL_SETTLE_MIB}) "
            f"{'met' if abs(grown) <= GOAL_SETTLE_MIB else 'missed'}"
        )
        if args.explain:
            explain(engine, operative)
    finally:
        cluster.stop_all()
        cluster.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", help="PostgreSQL server URL: also run there")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--scans-per-user", type=int, default=2000)
    parser.add_argument("--media", type=int, default=20000, help="the other users' media scans")
    parser.add_argument("--own-malware", type=int, default=100_000)
    parser.add_argument("--own-media", type=int, default=20_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--explain",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print the EXPLAIN of the malware listing's last page",
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; the operative owns {args.own_malware:,} malware and "
        f"{args.own_media:,} media scans; {args.users - 1} other users x {args.scans_per_user:,} "
        f"malware scans, {args.media:,} media scans; the client runs on the same machine"
    )
    workdir = Path(tempfile.mkdtemp(prefix="veriscan-listing-"))
    if args.only in (None, "sqlite"):
        run("SQLite (embedded default)", workdir / "sqlite", "", args)
    if args.database_url and args.only in (None, "postgresql") and pg_reachable(args.database_url):
        name, url = new_pg_database(args.database_url)
        try:
            run("PostgreSQL", workdir / "postgresql", url, args)
        finally:
            drop_pg_database(args.database_url, name)


if __name__ == "__main__":
    main()
