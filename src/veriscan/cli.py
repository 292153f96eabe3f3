"""The `veriscan` command: serve, migrate, user create, rotate-keys."""

from __future__ import annotations

import getpass
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from veriscan.core.config import Settings
from veriscan.core.logging import configure_logging

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Veriscan: is it malicious? is it authentic?"
)
user_app = typer.Typer(no_args_is_help=True, help="Manage user accounts.")
app.add_typer(user_app, name="user")


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level)
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 3001,
) -> None:
    """Run the whole service in one process (migrates the database first)."""
    _port_free_or_exit(host, port)  # before anything else: said at once, not after start-up
    import uvicorn

    from veriscan.app import create_app
    from veriscan.core.httpserver import BoundedHttpToolsProtocol
    from veriscan.core.memory import settle_heap

    settings = _settings()
    uvicorn.run(
        create_app(settings, on_started=settle_heap),
        host=host,
        port=port,
        http=BoundedHttpToolsProtocol,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


def _port_free_or_exit(host: str, port: int) -> None:
    """Exit with a plain message when the address is taken (rather than a traceback after
    the database is migrated and the models are loaded)."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = (
                "is already in use (another veriscan serve? choose one with --port, or "
                "PORT= with make run)"
                if exc.errno == errno.EADDRINUSE
                else f"cannot be listened on ({exc.strerror})"
            )
            typer.echo(f"error: {host}:{port} {reason}", err=True)
            raise typer.Exit(1) from None


@app.command()
def worker(
    threads: Annotated[int, typer.Option(help="Scans run at the same time")] = 4,
) -> None:
    """Run scans from the queue (with VERISCAN_REDIS_URL, beside any number of servers)."""
    from veriscan.context import AppContext
    from veriscan.core import migrate as migrations
    from veriscan.core.memory import settle_heap
    from veriscan.jobs import register_all, sweep_all
    from veriscan.queue import (
        SHUTDOWN_WAIT_SECONDS,
        QueueConsumer,
        Sweeper,
        consumer_options,
        join_workers,
    )

    settings = _settings()
    if not settings.redis_url:
        typer.echo(
            "warning: no VERISCAN_REDIS_URL: this worker shares the SQLite queue of one machine, "
            "and its live events cannot reach the server's clients",
            err=True,
        )
    context = AppContext.from_settings(settings)
    migrations.upgrade(context.db.engine)
    register_all(context)
    settle_heap()
    sweeper = Sweeper(lambda: sweep_all(context), settings.sweep_interval_seconds)
    sweeper.start()
    consumer = QueueConsumer(context.huey, **consumer_options(settings, threads))
    logging.getLogger("veriscan.worker").info(
        "worker.started threads=%d queue=%s pid=%d", threads, settings.queue_name, os.getpid()
    )
    try:
        # huey's own consumer: SIGTERM stops it (running scans are taken over by others
        # once their leases run out), SIGINT lets running scans finish first.
        consumer.run()
    finally:
        sweeper.stop()
        # A task still running when SIGTERM came must not find the database and Redis
        # closed under it (a traceback, and its next write lost): wait for it a while.
        join_workers(consumer, SHUTDOWN_WAIT_SECONDS)
        context.close()


@app.command("eval")
def evaluate(
    directory: Annotated[
        Path, typer.Argument(help="Folder of media files", exists=True, file_okay=False)
    ],
    labels: Annotated[
        Path, typer.Option(help="CSV with file, modality, label columns", exists=True)
    ],
    per_file: Annotated[bool, typer.Option(help="Also print each file's verdict")] = True,
) -> None:
    """Run the media analyzers over a labelled set: accuracy, ROC AUC and confusion per modality."""
    from veriscan.analyzers.evaluation import environment, render_table
    from veriscan.analyzers.evaluation import evaluate as run_evaluation
    from veriscan.analyzers.registry import build_analyzers, thresholds

    settings = _settings()
    analyzers = build_analyzers(settings)
    result = run_evaluation(directory, labels, analyzers=analyzers, thresholds=thresholds(settings))
    typer.echo(environment(analyzers))
    typer.echo(render_table(result, per_file=per_file))


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    from veriscan.core import migrate as migrations
    from veriscan.core.db import Database

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    migrations.upgrade(database.engine)
    database.dispose()
    typer.echo("database is up to date")


def _ask_password() -> str:
    """Ask for a new password, say at once what is wrong with it, and only then ask for
    it again to confirm."""
    from veriscan.auth.passwords import POLICY, problem

    typer.echo(f"The password: {POLICY}.", err=True)
    while True:
        first = str(typer.prompt("Password", hide_input=True, err=True))
        reason = problem(first)
        if reason is not None:
            typer.echo(f"error: {reason}", err=True)
            continue
        if typer.prompt("Repeat for confirmation", hide_input=True, err=True) == first:
            return first
        typer.echo("error: the two entries do not match", err=True)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option(help="Login name")],
    email: Annotated[str, typer.Option(help="E-mail address")],
    password: Annotated[
        str | None,
        typer.Option(
            help="Password (at least 12 characters, not a common one); asked for when not given"
        ),
    ] = None,
    role: Annotated[str, typer.Option(help="admin, analyst or operative")] = "operative",
    name: Annotated[str | None, typer.Option(help="Display name (default: the username)")] = None,
) -> None:
    """Add a user; the first admin is made this way."""
    from pydantic import ValidationError

    from veriscan.accounts.models import Role
    from veriscan.audit import service as audit
    from veriscan.auth import service
    from veriscan.auth.schemas import RegisterRequest
    from veriscan.context import AppContext
    from veriscan.core import migrate as migrations
    from veriscan.core.errors import VeriscanError

    try:
        chosen_role = Role(role)
    except ValueError:
        raise typer.BadParameter(
            "role must be admin, analyst or operative", param_hint="--role"
        ) from None
    if password is None:
        password = _ask_password()
    try:
        request = RegisterRequest(username=username, email=email, password=password, name=name)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: {errors}", err=True)
        raise typer.Exit(2) from None
    context = AppContext.from_settings(_settings())
    migrations.upgrade(context.db.engine)
    try:
        with context.db.session() as session:
            user = service.create_user(
                session,
                context,
                username=request.username,
                email=str(request.email),
                password=request.password,
                role=chosen_role,
                name=request.name,
            )
            # From the command line: no actor, the machine's user as the agent.
            audit.record(
                session,
                action="user.create",
                origin=audit.Origin("", f"veriscan-cli ({_login_name()})"),
                target_type="user",
                target_id=user.id,
                details={"username": user.username, "role": user.role, "via": "cli"},
            )
    except VeriscanError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        context.close()
    typer.echo(f"created {user.role} {user.username} ({user.id})")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no such user in a bare container
        return "unknown"


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt stored VirusTotal keys under the current secret.

    Set VERISCAN_SECRET_KEY to the new secret and VERISCAN_PREVIOUS_SECRET_KEYS to the
    old one, run this, then the old secret can be dropped.
    """
    from veriscan.context import AppContext
    from veriscan.keys.service import rotate_encryption

    context = AppContext.from_settings(_settings())
    try:
        with context.db.session() as session:
            count = rotate_encryption(session, context)
    except ValueError as exc:
        typer.echo(
            f"error: {exc}; set VERISCAN_PREVIOUS_SECRET_KEYS to the secret they were stored with",
            err=True,
        )
        raise typer.Exit(1) from None
    finally:
        context.close()
    typer.echo(f"re-encrypted {count} key(s)")


from veriscan.client_cli import client_app  # noqa: E402 - registered after the app exists
from veriscan.scan_cli import register as _register_scan  # noqa: E402
from veriscan.training.cli import models_app, train_app, trainset_app  # noqa: E402

app.add_typer(client_app, name="client")
app.add_typer(models_app, name="models")
app.add_typer(trainset_app, name="trainset")
app.add_typer(train_app, name="train")
_register_scan(app)


def main() -> None:
    app()
