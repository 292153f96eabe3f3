"""`veriscan client ...`: a running Veriscan server, over its public API and socket.io only.

The tokens of `login` are kept in the user's config dir (mode 0600); every later command
reads them, and trades the refresh token for a new access token once when the server
answers 401. Errors are one line: the server's envelope message and code (exit 1), or
what went wrong on this side (exit 2: usage, not logged in, server unreachable).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

EXIT_SERVER, EXIT_USAGE = 1, 2
CONFIG_ENV = "VERISCAN_CLIENT_CONFIG"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
UPLOAD_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
POLL_SECONDS = 2.0
FINAL_MALWARE = {"completed", "failed"}
FINAL_MEDIA = {"COMPLETED", "FAILED"}

client_app = typer.Typer(
    no_args_is_help=True,
    help="Talk to a running Veriscan server: login, upload, history, export, keys.",
    epilog="Exit status: 0 done; 1 the server refused (its message is shown); "
    "2 usage error, not logged in, or server unreachable.",
)
keys_app = typer.Typer(no_args_is_help=True, help="Your VirusTotal API keys.")
client_app.add_typer(keys_app, name="keys")


class ClientError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass
class ClientConfig:
    server: str
    access_token: str
    refresh_token: str
    username: str = ""


def config_path() -> Path:
    override = os.environ.get(CONFIG_ENV, "").strip()
    if override:
        return Path(override)
    return Path(typer.get_app_dir("veriscan")) / "client.json"


def load_config() -> ClientConfig:
    path = config_path()
    try:
        raw = json.loads(path.read_text())
        return ClientConfig(
            server=str(raw["server"]),
            access_token=str(raw["access_token"]),
            refresh_token=str(raw["refresh_token"]),
            username=str(raw.get("username", "")),
        )
    except FileNotFoundError:
        raise ClientError("not logged in: run `veriscan client login` first", EXIT_USAGE) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClientError(
            f"cannot read {path} ({type(exc).__name__}): log in again", EXIT_USAGE
        ) from None


def save_config(config: ClientConfig) -> Path:
    """Write the tokens readable by this user only, replacing the file in one step."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".client-", suffix=".json")
    try:
        os.fchmod(descriptor, 0o600)  # mkstemp already does; say it where it matters
        with os.fdopen(descriptor, "w") as handle:
            json.dump(asdict(config), handle, indent=2)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def error_message(response: httpx.Response) -> str:
    """The envelope's message and code; something readable for any other body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            code = error.get("code")
            return f"{error['message']} ({code})" if code else str(error["message"])
        if body.get("detail"):
            return str(body["detail"])
        if body.get("message"):
            return str(body["message"])
    return f"the server answered HTTP {response.status_code} {response.reason_phrase}"


class Api:
    """An HTTP session on the server, with the tokens of the config file."""

    def __init__(self, config: ClientConfig, *, save: bool = True) -> None:
        self.config = config
        self._save = save
        self.http = httpx.Client(base_url=config.server, timeout=TIMEOUT)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        upload: Path | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with the access token; on 401 refresh it once and send again."""
        response = self._send(method, url, upload, stream, kwargs)
        if response.status_code == 401 and self.config.refresh_token and self._refresh():
            response.close()
            response = self._send(method, url, upload, stream, kwargs)
        if response.is_error:
            if stream:
                response.read()
                response.close()
            raise ClientError(error_message(response), EXIT_SERVER)
        return response

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.request(method, url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ClientError(f"{method} {url}: the answer is not JSON", EXIT_SERVER) from None

    def _send(
        self,
        method: str,
        url: str,
        upload: Path | None,
        stream: bool,
        kwargs: dict[str, Any],
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        with _transport_errors(self.config.server):
            if upload is None:
                request = self.http.build_request(method, url, headers=headers, **kwargs)
                return self.http.send(request, stream=stream)
            # Opened per attempt: a retry after a refresh sends the file from its start.
            with upload.open("rb") as handle:
                request = self.http.build_request(
                    method,
                    url,
                    headers=headers,
                    files={"file": (upload.name, handle)},
                    timeout=UPLOAD_TIMEOUT,
                    **kwargs,
                )
                return self.http.send(request, stream=stream)

    def _refresh(self) -> bool:
        with _transport_errors(self.config.server):
            response = self.http.post(
                "/api/auth/refresh",
                headers={"Authorization": f"Bearer {self.config.refresh_token}"},
            )
        if response.status_code != 200:
            return False
        token = response.json().get("access_token")
        if not token:
            return False
        self.config.access_token = str(token)
        if self._save:
            save_config(self.config)
        return True


@contextmanager
def _transport_errors(server: str) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise ClientError(f"cannot reach the server at {server}: {reason}", EXIT_USAGE) from None


@contextmanager
def _reporting_errors() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:
        name = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"error: {exc.strerror or type(exc).__name__}{name}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        if column == "Id":
            # Whole, on one line, so that it can be copied: the other columns give way.
            table.add_column(column, no_wrap=True, min_width=36)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape("-" if cell is None else str(cell)) for cell in row))
    Console().print(table)


# --- login / logout -----------------------------------------------------------------


@client_app.command()
def login(
    server: Annotated[str, typer.Option(help="Base URL of the server")] = "http://127.0.0.1:3001",
    username: Annotated[str | None, typer.Option(help="Login name")] = None,
    email: Annotated[str | None, typer.Option(help="Or the e-mail address")] = None,
    password: Annotated[
        str | None, typer.Option(help="Asked for when not given (keeps it out of history)")
    ] = None,
) -> None:
    """Sign in and keep the tokens in the user's config dir (mode 0600)."""
    if (username is None) == (email is None):
        raise typer.BadParameter("give --username or --email (one of them)")
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    server = server.rstrip("/")
    body = {"password": password, **({"username": username} if username else {"email": email})}
    with _reporting_errors():
        with httpx.Client(base_url=server, timeout=TIMEOUT) as http, _transport_errors(server):
            response = http.post("/api/auth/login", json=body)
        if response.is_error:
            raise ClientError(error_message(response), EXIT_SERVER)
        data = response.json()
        user = data.get("user") or {}
        config = ClientConfig(
            server=server,
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            username=str(user.get("username", username or email)),
        )
        path = save_config(config)
    typer.echo(f"logged in to {server} as {config.username} ({user.get('role', '?')})")
    typer.echo(f"tokens saved in {path}", err=True)


@client_app.command()
def logout() -> None:
    """Revoke the tokens on the server and forget them here."""
    with _reporting_errors():
        config = load_config()
        try:
            with Api(config, save=False) as api:
                api.request("POST", "/api/auth/logout")
        except ClientError as exc:  # forgotten here all the same; say what the server said
            typer.echo(f"warning: {exc.message}", err=True)
        config_path().unlink(missing_ok=True)
    typer.echo("logged out")


# --- upload and watch ---------------------------------------------------------------


@client_app.command()
def upload(
    path: Annotated[Path, typer.Argument(help="The file to send")],
    media: Annotated[
        bool, typer.Option("--media", help="A media authenticity scan instead of malware")
    ] = False,
    tags: Annotated[str | None, typer.Option(help="Comma-separated tags (media scans)")] = None,
    watch: Annotated[bool, typer.Option(help="Follow the scan live until it ends")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's JSON")] = False,
) -> None:
    """Upload a file for a malware scan (or --media for a deepfake scan)."""
    if not path.is_file():
        typer.echo(f"error: not a readable file: {path}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if tags and not media:
        raise typer.BadParameter("--tags applies to media scans (--media)")
    with _reporting_errors(), Api(load_config()) as api:
        if media:
            data = {"tags": tags} if tags else {}
            body = api.json("POST", "/api/scans/upload", upload=path, data=data)
            scan = body["data"]
            scan_id, status = str(scan["id"]), str(scan["status"])
        else:
            body = api.json("POST", "/api/files/upload", upload=path)
            scan_id = str(body["scan"]["scan_id"])
            status = str(body["scan"]["status"])
        if as_json and not watch:
            _print_json(body)
            return
        if not as_json:
            typer.echo(f"uploaded {path.name}: scan {scan_id} {status}")
        if not watch:
            return
        final = _watch(api, scan_id, media)
        if as_json:
            _print_json(final)
        else:
            _print_final(final, media)
        if str(final.get("status", "")).lower() == "failed":
            raise typer.Exit(EXIT_SERVER)


def _status(api: Api, scan_id: str, media: bool) -> dict[str, Any]:
    if media:
        body: dict[str, Any] = api.json("GET", f"/api/scans/{scan_id}")["data"]
        return body
    result: dict[str, Any] = api.json("GET", f"/api/scan/{scan_id}/status")
    return result


def _is_final(status: dict[str, Any], media: bool) -> bool:
    return str(status.get("status")) in (FINAL_MEDIA if media else FINAL_MALWARE)


def _connect_events(api: Api, scan_id: str) -> tuple[Any, queue.Queue[tuple[str, dict[str, Any]]]]:
    """A socket.io client that queues this scan's events; None when it cannot connect."""
    import socketio

    events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    client = socketio.Client(reconnection=False)

    def listener(name: str) -> Any:
        def handle(data: Any) -> None:
            if isinstance(data, dict) and str(data.get("scanId")) == scan_id:
                events.put((name, data))

        return handle

    for name in ("scan:progress", "scan:complete", "scan:error"):
        client.on(name, listener(name))
    try:
        client.connect(
            api.config.server,
            auth={"token": api.config.access_token},
            transports=["websocket"],
            wait_timeout=10,
        )
    except Exception as exc:  # no live events: the status endpoint still tells the end
        typer.echo(f"warning: no live progress ({exc}); polling instead", err=True)
        return None, events
    return client, events


def _watch(api: Api, scan_id: str, media: bool) -> dict[str, Any]:
    """Follow the scan by socket.io, checking the status endpoint now and then (the scan
    may have ended before the connection, or the connection may drop)."""
    client, events = _connect_events(api, scan_id)
    show = _ProgressView()
    told = False
    try:
        while True:
            status = _status(api, scan_id, media)
            if _is_final(status, media):
                break
            show.update(int(status.get("progress") or 0), str(status.get("stage") or ""))
            deadline = time.monotonic() + POLL_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                try:
                    name, data = events.get(timeout=left)
                except queue.Empty:
                    break
                if name == "scan:progress":
                    show.update(int(data.get("progress") or 0), str(data.get("stage") or ""))
                    if data.get("engines") and not told:
                        # The local engines have answered; VirusTotal's part goes on.
                        told = True
                        typer.echo(
                            f"so far: {data.get('verdict')} "
                            f"(detection ratio {data.get('detection_ratio')})",
                            err=True,
                        )
                else:
                    break  # complete or error: the status endpoint has the whole story
    finally:
        show.close()
        if client is not None:
            client.disconnect()
    if media:
        return status
    results: dict[str, Any] = api.json("GET", f"/api/scan/{scan_id}/results")
    return results


class _ProgressView:
    """A bar on a terminal; plain lines (on stderr) otherwise."""

    def __init__(self) -> None:
        self._last: tuple[int, str] | None = None
        self._progress: Any = None
        self._task: Any = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._progress = Progress(console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("scanning", total=100)

    def update(self, percent: int, stage: str) -> None:
        if (percent, stage) == self._last:
            return
        self._last = (percent, stage)
        if self._progress is not None:
            self._progress.update(self._task, completed=percent, description=stage or "scanning")
        else:
            typer.echo(f"  {percent:3d}% {stage}", err=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _print_final(final: dict[str, Any], media: bool) -> None:
    if media:
        typer.echo(
            f"status: {final.get('status')}  verdict: {final.get('result')}  "
            f"riskScore: {final.get('riskScore')}  confidence: {final.get('confidence')}"
        )
        if final.get("error"):
            typer.echo(f"error: {final['error']}")
        if final.get("explanation"):
            typer.echo(final["explanation"])
        return
    typer.echo(
        f"status: {final.get('status')}  verdict: {final.get('verdict')}  "
        f"detection ratio: {final.get('detection_ratio')}"
    )
    for engine in final.get("engines") or []:
        if engine.get("state") != "answered":
            typer.echo(f"{engine.get('name')}: {engine.get('state')}: {engine.get('detail')}")
    rows = [
        [r.get("engine_name"), r.get("category"), r.get("result")]
        for r in final.get("results") or []
    ]
    if rows:
        _table(str(final.get("filename") or "results"), ["Engine", "Category", "Result"], rows)


# --- history and export -------------------------------------------------------------


@client_app.command()
def history(
    media: Annotated[bool, typer.Option("--media", help="Media scans instead of malware")] = False,
    status: Annotated[str | None, typer.Option(help="Status filter")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Items per page")] = 20,
    date_from: Annotated[str | None, typer.Option(help="ISO date: from")] = None,
    date_to: Annotated[str | None, typer.Option(help="ISO date: to")] = None,
    sort_by: Annotated[
        str | None,
        typer.Option(help="malware: scan_date, detection_ratio; media: date, riskScore, ..."),
    ] = None,
    sort_order: Annotated[str | None, typer.Option(help="asc or desc")] = None,
    detection_min: Annotated[int | None, typer.Option(help="malware: min malicious")] = None,
    detection_max: Annotated[int | None, typer.Option(help="malware: max malicious")] = None,
    search: Annotated[str | None, typer.Option(help="media: full-text search")] = None,
    verdict: Annotated[str | None, typer.Option(help="media: DEEPFAKE, ...")] = None,
    media_type: Annotated[str | None, typer.Option(help="media: IMAGE, VIDEO, AUDIO")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's JSON")] = False,
) -> None:
    """List your scans (malware by default, --media for media scans), newest first."""
    if media:
        url = "/api/scans/history"
        params: dict[str, Any] = {
            "page": page,
            "limit": limit,
            "status": status,
            "startDate": date_from,
            "endDate": date_to,
            "sortBy": sort_by,
            "sortOrder": sort_order,
            "search": search,
            "verdict": verdict,
            "mediaType": media_type,
        }
    else:
        if search or verdict or media_type:
            raise typer.BadParameter("--search, --verdict and --media-type need --media")
        url = "/api/scan/results"
        params = {
            "page": page,
            "per_page": limit,
            "status": status,
            "date_from": date_from,
            "date_to": date_to,
            "sort_by": sort_by,
            "sort_order": sort_order,
            "detection_min": detection_min,
            "detection_max": detection_max,
        }
    params = {key: value for key, value in params.items() if value is not None}
    with _reporting_errors(), Api(load_config()) as api:
        body = api.json("GET", url, params=params)
    if as_json:
        _print_json(body)
        return
    if media:
        items, pages = body.get("data") or [], body.get("pagination") or {}
        rows = [
            [
                i["id"],
                i["fileName"],
                i["type"],
                i["status"],
                i["result"],
                i["score"],
                i["timestamp"],
            ]
            for i in items
        ]
        columns = ["Id", "File", "Type", "Status", "Verdict", "Risk", "Date"]
        total, pages_count = pages.get("total"), pages.get("pages")
    else:
        items, pages = body.get("scans") or [], body.get("pagination") or {}
        rows = [
            [i["id"], i["filename"], i["status"], i["detection_ratio"], i["scan_date"]]
            for i in items
        ]
        columns = ["Id", "File", "Status", "Detections", "Date"]
        total, pages_count = pages.get("total_items"), pages.get("total_pages")
    if not rows:
        typer.echo("no scans")
        return
    _table("Media scans" if media else "Malware scans", columns, rows)
    typer.echo(f"page {page} of {pages_count}, {total} scan(s)")


@client_app.command()
def export(
    scan_id: Annotated[str, typer.Argument(help="A scan id (malware, or media with --media)")],
    report_format: Annotated[str, typer.Option("--format", help="json, csv or pdf")] = "json",
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout)")] = None,
    media: Annotated[
        bool, typer.Option("--media", help="A media authenticity scan instead of malware")
    ] = False,
) -> None:
    """Download a scan's report (malware by default; --media for a media scan)."""
    if report_format not in ("json", "csv", "pdf"):
        raise typer.BadParameter("json, csv or pdf", param_hint="--format")
    if output is None and report_format == "pdf" and sys.stdout.isatty():
        raise typer.BadParameter("a PDF needs --output FILE", param_hint="--output")
    with _reporting_errors(), Api(load_config()) as api:
        path = f"/api/scans/{scan_id}/export" if media else f"/api/scan/{scan_id}/export"
        try:
            response = api.request("GET", path, params={"format": report_format}, stream=True)
        except ClientError as exc:
            if not media and "Scan not found" in str(exc):
                raise ClientError(f"{exc} (a media scan? add --media)", exc.exit_code) from None
            raise
        try:
            if output is None:
                for chunk in response.iter_bytes():
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                return
            size = _save_stream(response, output)
        finally:
            response.close()
    typer.echo(f"saved {size} bytes to {output}")


def _save_stream(response: httpx.Response, output: Path) -> int:
    """Write to a temporary file beside `output`, then rename: never a half report."""
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    size = 0
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in response.iter_bytes():
                handle.write(chunk)
                size += len(chunk)
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return size


# --- keys ---------------------------------------------------------------------------


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's JSON")] = False,
) -> None:
    """Your VirusTotal keys (their values are never shown)."""
    with _reporting_errors(), Api(load_config()) as api:
        body = api.json("GET", "/api/keys/")
    if as_json:
        _print_json(body)
        return
    keys = body.get("api_keys") or []
    if not keys:
        typer.echo("no keys")
        return
    rows = [
        [k["id"], k["name"], "yes" if k.get("is_active") else "no", k.get("created_at")]
        for k in keys
    ]
    _table("VirusTotal keys", ["Id", "Name", "Active", "Created"], rows)


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="A name to know it by")],
    value: Annotated[
        str | None, typer.Argument(help="The key; asked for when not given (keeps it out of ps)")
    ] = None,
) -> None:
    """Add a VirusTotal key (the server checks it with VirusTotal)."""
    if value is None:
        value = typer.prompt("Key value", hide_input=True)
    with _reporting_errors(), Api(load_config()) as api:
        body = api.json("POST", "/api/keys/", json={"name": name, "key_value": value})
    key = body.get("api_key") or {}
    typer.echo(f"added key {key.get('name')} ({key.get('id')})")


@keys_app.command("delete")
def keys_delete(key_id: Annotated[str, typer.Argument(help="The key's id")]) -> None:
    """Delete one of your VirusTotal keys."""
    with _reporting_errors(), Api(load_config()) as api:
        api.request("DELETE", f"/api/keys/{key_id}")
    typer.echo(f"deleted key {key_id}")
