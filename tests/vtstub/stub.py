"""A stand-in for VirusTotal's v3 REST API, served over real HTTP for tests.

Protocol, as documented at docs.virustotal.com/reference:

* every call sends the key in the ``x-apikey`` header; errors are
  ``{"error": {"code": ..., "message": ...}}`` with the documented HTTP status
  (401 ``AuthenticationRequiredError`` / ``WrongCredentialsError``, 403 ``ForbiddenError``,
  404 ``NotFoundError``, 429 ``QuotaExceededError``, 503 ``TransientError``...);
* ``POST /files`` takes a multipart ``file`` of up to 32 MB; bigger files go to the one-use
  URL from ``GET /files/upload_url`` (up to 650 MB). Both answer an analysis descriptor;
* ``GET /analyses/{id}`` answers the analysis with the file's hashes in the top-level
  ``meta.file_info`` (beside ``data``, as VirusTotal sends it);
* ``GET /files/{id}`` takes a SHA-256, SHA-1 or MD5. A newly uploaded file is only found
  there once its first analysis has completed, as on the real service.

What the docs leave open, and what the stand-in does about it, is said where it is done.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vtstub.engines import Content, scan
from tests.vtstub.objects import AnalysisRecord, FileRecord, error, user_json
from tests.vtstub.quota import KeyAccount, Windows
from tests.vtstub.server import ServerThread
from tests.vtstub.uploads import drained, receive_file

API_PREFIX = "/api/v3"
MIB = 1024 * 1024


class RecordedRequest(NamedTuple):
    method: str
    path: str  # the full URL path, e.g. "/api/v3/files/<sha256>" or "/upload/<token>"
    key: str | None  # the x-apikey header as sent, None when missing
    at: float = 0.0  # the stub's clock when the request arrived


@dataclass
class _Fault:
    remaining: int
    status: int
    code: str
    message: str
    path_prefix: str | None

    def matches(self, path: str) -> bool:
        if self.path_prefix is None:
            return True
        # A prefix may be given with or without the /api/v3 base.
        return path.startswith(self.path_prefix) or path.removeprefix(API_PREFIX).startswith(
            self.path_prefix
        )


class _Route(NamedTuple):
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Awaitable[Response]]
    authenticated: bool = True
    consumes_quota: bool = True


class VirusTotalStub:
    """The stand-in's state, its Starlette app (``.app``) and, once started, its server.

    Options:
        minute_seconds / day_seconds: quota window lengths (see ``quota.py``).
        polls_until_complete: an analysis answers "queued" on its first poll, "in-progress"
            on the next ones, and "completed" from poll ``polls_until_complete + 1`` on
            (0: completed on the first poll).
        complete_after_seconds: if set, an analysis also completes once this long has passed
            since submission, so clients that poll ``/files/{id}`` instead still finish.
        slow_engine: StubAV-Hotel answers "timeout" for analyses submitted while it is set.
        max_direct_upload / max_large_upload: size limits of ``POST /files`` and of the
            upload URL (VirusTotal: 32 MB and 650 MB).
        keys: API keys to register at once with ``add_key``'s defaults.
        clock: the monotonic clock quotas and completion times are read from.
    """

    def __init__(
        self,
        *,
        minute_seconds: float = 60.0,
        day_seconds: float = 86400.0,
        polls_until_complete: int = 2,
        complete_after_seconds: float | None = None,
        slow_engine: bool = False,
        max_direct_upload: int = 32 * MIB,
        max_large_upload: int = 650 * MIB,
        keys: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.windows = Windows(minute=minute_seconds, day=day_seconds)
        self.polls_until_complete = polls_until_complete
        self.complete_after_seconds = complete_after_seconds
        self.slow_engine = slow_engine
        self.max_direct_upload = max_direct_upload
        self.max_large_upload = max_large_upload
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, KeyAccount] = {}
        self._files: dict[str, FileRecord] = {}  # by sha256
        self._hashes: dict[str, str] = {}  # sha256 / sha1 / md5 -> sha256
        self._analyses: dict[str, AnalysisRecord] = {}
        self._upload_tokens: set[str] = set()
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []
        self._uploads: list[str] = []
        self._quota_violations = 0
        self._offline = False
        self.latency = 0.0  # seconds every answer is held back (a slow VirusTotal)
        self._routes = self._build_routes()
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._dispatch,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                )
            ]
        )
        self._server = ServerThread(self.app, host, port)
        self._started = False
        for key in keys:
            self.add_key(key)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> VirusTotalStub:
        self._server.start()
        self._started = True
        return self

    def stop(self) -> None:
        self._started = False
        self._server.stop()

    def __enter__(self) -> VirusTotalStub:
        return self.start() if not self._started else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``, where the upload URLs live."""
        if not self._server.port:
            raise RuntimeError("the stand-in is not started")
        return f"http://{self._server.host}:{self._server.port}"

    @property
    def url(self) -> str:
        """The API base, ``http://127.0.0.1:PORT/api/v3``: VERISCAN_VIRUSTOTAL_URL."""
        return self.origin + API_PREFIX

    def set_offline(self, offline: bool = True) -> None:
        """Make VirusTotal unreachable: the listening socket is closed, so connections are
        refused (a client sees a connect error, as for a host that is down); ``False``
        listens again on the same port, with all state kept. A request already inside
        the app while going offline is answered 503 ``TransientError``."""
        with self._lock:
            self._offline = offline
        if offline:
            self._server.stop()
        elif self._started:
            self._server.start()

    # ---------------------------------------------------------------- test controls

    def add_key(
        self,
        key: str,
        *,
        per_minute: int | None = 4,
        per_day: int | None = 500,
        kind: str = "public",
        user_id: str | None = None,
        per_hour: int | bool | None = True,
    ) -> None:
        """Register a valid key; None means no limit. The hourly and monthly allowances
        shown in the user object (and enforced) follow VirusTotal's public figures,
        ``per_minute * 60`` and ``per_day * 31``, unless ``per_hour`` is given. A premium
        key: ``per_minute=None, per_hour=30_000, per_day=None, kind="premium"`` (VirusTotal
        shows no per-minute figure; its user object shows the hourly one)."""
        with self._lock:
            self._keys[key] = KeyAccount(
                key=key,
                user_id=user_id or f"stub-user-{len(self._keys) + 1}",
                kind=kind,
                per_minute=per_minute,
                per_hour=(None if per_minute is None else per_minute * 60)
                if per_hour is True
                else (per_hour or None),
                per_day=per_day,
                per_month=None if per_day is None else per_day * 31,
                origin=self.clock(),
            )

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        code: str = "TransientError",
        *,
        message: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """The next ``n`` requests (only those whose path starts with ``path_prefix``, with
        or without ``/api/v3``, if given) fail with this status and error code, before any
        key check. They do not consume quota. Calls queue up in order."""
        with self._lock:
            self._faults.append(
                _Fault(n, status, code, message or f"Injected failure ({code})", path_prefix)
            )

    def clear_faults(self) -> None:
        """Drop the failures ``fail_next`` queued and has not used yet."""
        with self._lock:
            self._faults.clear()

    def preload(self, content: bytes, *, name: str | None = None) -> str:
        """Make VirusTotal already know a file, with a completed analysis (dated now), so a
        lookup by any of its hashes succeeds without an upload. Returns its SHA-256; the
        analysis id is ``last_analysis_id(sha256)``. Not counted in ``uploads``."""
        info = Content.of_bytes(content)
        with self._lock:
            record = self._submit(info, name)
            analysis = self._new_analysis(info)
            self._complete(analysis)
        return record.content.sha256

    def reset(self) -> None:
        """Forget files, analyses, faults, upload URLs, the request log and quota use;
        keep the registered keys (with fresh quotas). For a stub shared between tests."""
        with self._lock:
            self._files.clear()
            self._hashes.clear()
            self._analyses.clear()
            self._upload_tokens.clear()
            self._faults.clear()
            self._requests.clear()
            self._uploads.clear()
            self._quota_violations = 0
            now = self.clock()
            for account in self._keys.values():
                account.reset(now)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, answered or not, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def quota_violations(self) -> int:
        """How many requests were answered 429 QuotaExceededError."""
        with self._lock:
            return self._quota_violations

    @property
    def uploads(self) -> list[str]:
        """SHA-256 of every file uploaded (POST /files or an upload URL), in order."""
        with self._lock:
            return list(self._uploads)

    def request_times(self, key: str) -> list[float]:
        """When each request with this key arrived: every one VirusTotal would count."""
        with self._lock:
            return [r.at for r in self._requests if r.key == key]

    def usage(self, key: str) -> dict[str, int]:
        """Quota-consuming requests admitted for this key in the current minute, hour,
        day and month windows."""
        with self._lock:
            return self._keys[key].usage(self.clock(), self.windows)

    def last_analysis_id(self, sha256: str) -> str | None:
        with self._lock:
            ids = [a.id for a in self._analyses.values() if a.content.sha256 == sha256]
        return ids[-1] if ids else None

    # ---------------------------------------------------------------- state (under lock)

    def _submit(self, info: Content, name: str | None) -> FileRecord:
        now = int(time.time())
        record = self._files.get(info.sha256)
        if record is None:
            record = FileRecord(content=info, first_submission=now, last_submission=now)
            self._files[info.sha256] = record
            for digest in (info.sha256, info.sha1, info.md5):
                self._hashes[digest] = info.sha256
        record.times_submitted += 1
        record.last_submission = now
        if name and name not in record.names:
            record.names.append(name)
        return record

    def _new_analysis(self, info: Content) -> AnalysisRecord:
        # VirusTotal's file analysis ids are base64("<md5>:<unix time>").
        date = int(time.time())
        while True:
            analysis_id = base64.b64encode(f"{info.md5}:{date}".encode()).decode()
            if analysis_id not in self._analyses:
                break
            date += 1  # two analyses of one file in one second: keep ids unique
        analysis = AnalysisRecord(
            id=analysis_id,
            content=info,
            date=date,
            created=self.clock(),
            results=scan(info, slow_engine=self.slow_engine),
        )
        self._analyses[analysis_id] = analysis
        return analysis

    def _complete(self, analysis: AnalysisRecord) -> None:
        analysis.completed = True
        record = self._files[analysis.content.sha256]
        previous = record.last_analysis
        if previous is None or previous[0] <= analysis.date:
            record.last_analysis = (analysis.date, analysis.results)
            record.last_modification = int(time.time())

    def _maybe_complete(self, analysis: AnalysisRecord) -> None:
        if analysis.completed:
            return
        timed_out = (
            self.complete_after_seconds is not None
            and self.clock() - analysis.created >= self.complete_after_seconds
        )
        if timed_out or analysis.polls > self.polls_until_complete:
            self._complete(analysis)

    def _visible_file(self, file_id: str) -> FileRecord | None:
        sha256 = self._hashes.get(file_id.lower())
        if sha256 is None:
            return None
        for analysis in self._analyses.values():
            if analysis.content.sha256 == sha256:
                self._maybe_complete(analysis)
        record = self._files[sha256]
        return record if record.last_analysis is not None else None

    # ---------------------------------------------------------------- dispatch

    def _build_routes(self) -> list[_Route]:
        def api(path: str) -> re.Pattern[str]:
            return re.compile(f"^{API_PREFIX}{path}$")

        return [
            # Whether reading one's own user object consumes API quota is not documented;
            # the stand-in counts it, as every other request (the strict reading: a client
            # that passes here cannot be surprised by the real service).
            _Route("GET", api(r"/users/(?P<user>[^/]+)"), self._get_user),
            _Route("GET", api(r"/files/upload_url"), self._get_upload_url),
            _Route("GET", api(r"/files/(?P<file_id>[^/]+)"), self._get_file),
            _Route("POST", api(r"/files"), self._post_file),
            _Route("POST", api(r"/files/(?P<file_id>[^/]+)/analyse"), self._post_analyse),
            _Route("GET", api(r"/analyses/(?P<analysis_id>[^/]+)"), self._get_analysis),
            # The upload URL is a capability in itself: it needs no key and, the upload_url
            # call having been counted, consumes no quota.
            _Route(
                "POST",
                re.compile(r"^/upload/(?P<token>[^/]+)/?$"),
                self._post_upload,
                authenticated=False,
                consumes_quota=False,
            ),
        ]

    async def _dispatch(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        key = request.headers.get("x-apikey") or None  # an empty header counts as missing
        with self._lock:
            self._requests.append(RecordedRequest(method, path, key, self.clock()))
            fault = self._take_fault(path)
            offline = self._offline
        if offline:
            return await drained(request, error(503, "TransientError", "Service unavailable"))
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None:
            return await drained(request, error(fault.status, fault.code, fault.message))

        allowed: list[str] = []
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            denied = self._admit(route, key)
            if denied is not None:
                return await drained(request, denied)
            return await route.handler(request, key, **match.groupdict())
        if allowed:
            # Not in VirusTotal's error table: its front end answers such requests itself.
            response = error(
                405,
                "MethodNotAllowedError",
                f"Method {method} is not allowed for {path}",
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
            return await drained(request, response)
        return await drained(request, error(404, "NotFoundError", f"Resource {path} not found"))

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _admit(self, route: _Route, key: str | None) -> Response | None:
        if not route.authenticated:
            return None
        if key is None:
            return error(401, "AuthenticationRequiredError", "X-Apikey header is missing")
        with self._lock:
            account = self._keys.get(key)
            if account is None:
                return error(401, "WrongCredentialsError", "Wrong API key")
            if not route.consumes_quota:
                return None
            exceeded = account.try_consume(self.clock(), self.windows)
            if exceeded is None:
                return None
            self._quota_violations += 1
        return error(
            429, "QuotaExceededError", f"Quota exceeded: too many requests this {exceeded}"
        )

    # ---------------------------------------------------------------- endpoints

    async def _get_user(self, request: Request, key: str | None, user: str) -> Response:
        # VirusTotal takes the user id or the API key here; another user's is forbidden.
        with self._lock:
            account = self._keys[key or ""]
            if user not in (account.key, account.user_id):
                others = {k for a in self._keys.values() for k in (a.key, a.user_id)}
                if user in others:
                    return error(403, "ForbiddenError", "You are not allowed to see this user")
                return error(404, "NotFoundError", f'User "{user}" not found')
            quotas = account.quotas(self.clock(), self.windows)
        since = int(time.time()) - 365 * 86400
        return JSONResponse(user_json(account, quotas, _base(request), since))

    async def _get_file(self, request: Request, key: str | None, file_id: str) -> Response:
        with self._lock:
            record = self._visible_file(file_id)
            if record is None:
                return error(404, "NotFoundError", f'File "{file_id}" not found')
            body = record.to_json(_base(request))
        return JSONResponse(body)

    async def _post_file(self, request: Request, key: str | None) -> Response:
        return await self._upload(request, self.max_direct_upload, _base(request))

    async def _get_upload_url(self, request: Request, key: str | None) -> Response:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._upload_tokens.add(token)
        return JSONResponse({"data": f"{_origin(request)}/upload/{token}"})

    async def _post_upload(self, request: Request, key: str | None, token: str) -> Response:
        with self._lock:
            valid = token in self._upload_tokens
            self._upload_tokens.discard(token)  # one use, whether or not the upload succeeds
        if not valid:
            response = error(404, "NotFoundError", "Upload URL not found or already used")
            return await drained(request, response)
        return await self._upload(request, self.max_large_upload, _base(request))

    async def _upload(self, request: Request, limit: int, base: str) -> Response:
        received = await receive_file(request, limit)
        if isinstance(received, Response):
            return received
        info, name = received
        with self._lock:
            self._submit(info, name)
            analysis = self._new_analysis(info)
            self._uploads.append(info.sha256)
        return JSONResponse(analysis.descriptor(base))

    async def _post_analyse(self, request: Request, key: str | None, file_id: str) -> Response:
        with self._lock:
            record = self._visible_file(file_id)
            if record is None:
                return error(404, "NotFoundError", f'File "{file_id}" not found')
            analysis = self._new_analysis(record.content)
        return JSONResponse(analysis.descriptor(_base(request)))

    async def _get_analysis(self, request: Request, key: str | None, analysis_id: str) -> Response:
        with self._lock:
            analysis = self._analyses.get(analysis_id)
            if analysis is None:
                return error(404, "NotFoundError", f'Analysis "{analysis_id}" not found')
            analysis.polls += 1
            self._maybe_complete(analysis)
            body = analysis.to_json(_base(request))
        return JSONResponse(body)


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _base(request: Request) -> str:
    return _origin(request) + API_PREFIX


def start_stub(**options: Any) -> VirusTotalStub:
    """Create a ``VirusTotalStub(**options)``, serve it on a free loopback port and return
    it (also a context manager: ``with start_stub() as stub:`` stops it on exit)."""
    return VirusTotalStub(**options).start()
