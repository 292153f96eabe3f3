"""The deployment files under deploy/ and docs/deploy.md deploy what is tested.

Every command they run is one of tests/distributed/commands.py (MIGRATE, SERVE,
WORKER): same program, subcommand and option names in the same order; only the values
differ. systemd accepts the units, the compose file gives every veriscan process the
shared settings and the data volume, the image carries no test dependencies, and the
operator's document names every file and only settings that exist.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.distributed.commands import MIGRATE, SERVE, SHARED_SETTINGS, WORKER
from veriscan.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
ENV_EXAMPLE = SYSTEMD / "veriscan.env.example"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
NGINX = DEPLOY / "nginx.conf"
DOCS = ROOT / "docs" / "deploy.md"

COMMANDS = {command[1]: command for command in (MIGRATE, SERVE, WORKER)}
SETTING = re.compile(r"\bVERISCAN_[A-Z][A-Z0-9_]*")
EXEC_KEYS = {
    "ExecCondition",
    "ExecStartPre",
    "ExecStart",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
}
# The path every unit runs Veriscan from (docs/deploy.md installs it there).
UNIT_PROGRAM = "/opt/veriscan/.venv/bin/veriscan"


# --- commands --------------------------------------------------------------------------


def runs_veriscan(argv: list[str]) -> bool:
    return bool(argv) and Path(argv[0]).name == "veriscan"


def command_problem(argv: list[str]) -> str | None:
    """Why `argv` is not one of the tested commands, or None when it is one."""
    if not runs_veriscan(argv):
        return f"{argv!r} does not run veriscan"
    if len(argv) < 2 or argv[1] not in COMMANDS:
        return f"{argv!r}: the subcommand is not one of {sorted(COMMANDS)}"
    template = COMMANDS[argv[1]]
    if len(argv) != len(template):
        return f"{argv!r} does not have the shape of {template!r}"
    for got, want in zip(argv[1:], template[1:], strict=True):
        if want.startswith("{"):
            if not got or got.startswith("-"):
                return f"{argv!r}: {got!r} stands where a value {want} belongs"
        elif got != want:
            return f"{argv!r}: {got!r} where {template!r} has {want!r}"
    return None


def test_the_matcher_tells_tested_commands_from_others() -> None:
    assert command_problem(["/opt/x/bin/veriscan", "serve", "--host", "h", "--port", "1"]) is None
    assert command_problem(["veriscan", "worker", "--threads", "%i"]) is None
    assert command_problem(["veriscan", "migrate"]) is None
    assert command_problem(["veriscan", "serve", "--port", "1", "--host", "h"]) is not None
    assert command_problem(["veriscan", "serve", "--host", "h"]) is not None
    assert command_problem(["veriscan", "worker", "--concurrency", "4"]) is not None
    assert command_problem(["veriscan", "worker", "--threads", "--x"]) is not None
    assert command_problem(["veriscan", "rotate-keys"]) is not None
    assert command_problem(["python", "-m", "veriscan", "migrate"]) is not None


# --- systemd ---------------------------------------------------------------------------


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of a unit file, continuation lines joined."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(path: Path, key: str) -> list[str]:
    return [value for _, name, value in unit_entries(path) if name == key]


def exec_argv(value: str) -> list[str]:
    """An Exec*= line's command, without systemd's prefixes (-, @, :, +, !)."""
    return shlex.split(value.lstrip("-@:+!"))


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: {raw!r} is not KEY=value"
            values[key.strip()] = value.strip()
    return values


def test_there_is_a_unit_for_each_command() -> None:
    names = {path.name for path in UNITS}
    assert {
        "veriscan-serve@.service",
        "veriscan-worker@.service",
        "veriscan-migrate.service",
    } <= names
    run = {exec_argv(value)[1] for path in UNITS for value in unit_values(path, "ExecStart")}
    assert run == set(COMMANDS)


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_unit_runs_a_tested_command(unit: Path) -> None:
    starts = [value for value in unit_values(unit, "ExecStart") if value]
    assert len(starts) == 1, f"{unit.name}: one ExecStart, got {starts}"
    assert runs_veriscan(exec_argv(starts[0])), f"{unit.name} does not run veriscan"
    for _, key, value in unit_entries(unit):
        if key in EXEC_KEYS and value and runs_veriscan(exec_argv(value)):
            argv = exec_argv(value)
            assert argv[0] == UNIT_PROGRAM, f"{unit.name}: {key} runs {argv[0]}"
            problem = command_problem(argv)
            assert problem is None, f"{unit.name}: {key}: {problem}"


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_unit_is_hardened_and_stops_cleanly(unit: Path) -> None:
    data_dir = env_file(ENV_EXAMPLE)["VERISCAN_DATA_DIR"]
    values = {key: value for _, key, value in unit_entries(unit)}
    expected = {
        "User": "veriscan",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": data_dir,
        "RequiresMountsFor": data_dir,
        "EnvironmentFile": "/etc/veriscan/veriscan.env",
        "KillSignal": "SIGTERM",
    }
    for key, value in expected.items():
        assert values.get(key) == value, f"{unit.name}: {key}={values.get(key)}, not {value}"
    assert values.get("TimeoutStopSec"), f"{unit.name}: no TimeoutStopSec"
    if values.get("Type") != "oneshot":
        assert values.get("Restart") == "on-failure", f"{unit.name}: Restart"


def test_units_pass_the_port_as_the_instance() -> None:
    (start,) = unit_values(SYSTEMD / "veriscan-serve@.service", "ExecStart")
    argv = exec_argv(start)
    assert argv[argv.index("--port") + 1] == "%i"


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify needs no running systemd, but make sure it works here before judging.
    probe = tmp_path / "probe" / "veriscan-probe.service"
    probe.parent.mkdir()
    probe.write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n")
    result = _run([analyze, "verify", "--man=no", str(probe)])
    if result.returncode != 0:
        pytest.skip(f"systemd-analyze verify does not work here: {result.stderr.strip()}")
    # verify checks that ExecStart's program is executable: stand one in for the install.
    stub = tmp_path / "bin" / "veriscan"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for unit in UNITS:
        (units / unit.name).write_text(unit.read_text().replace(UNIT_PROGRAM, str(stub)))
    result = _run([analyze, "verify", "--man=no", *sorted(str(p) for p in units.iterdir())])
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    # Unknown keys and bad values are only warnings: any line about our units fails.
    complaints = [line for line in output.splitlines() if "veriscan" in line]
    assert not complaints, "\n".join(complaints)


def test_environment_example_has_the_shared_settings_and_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = env_file(ENV_EXAMPLE)
    missing = [name for name in SHARED_SETTINGS if name not in values]
    assert not missing, f"veriscan.env.example lacks {missing}"
    for name in os.environ:
        if name.startswith("VERISCAN_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VERISCAN_SECRET_KEY", "x" * 64)
    settings = Settings(_env_file=None)
    assert settings.data_dir == Path(values["VERISCAN_DATA_DIR"])
    assert settings.redis_url and settings.database_url.startswith("postgresql://")
    assert settings.worker_threads == 0, "servers must leave the scans to the workers"


# --- compose ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict) and isinstance(document.get("services"), dict)
    return document


def service_argv(service: dict[str, Any]) -> list[str]:
    def words(value: Any) -> list[str]:
        if value is None:
            return []
        return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]

    return words(service.get("entrypoint")) + words(service.get("command"))


def builds_veriscan(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if isinstance(build, dict):
        context = COMPOSE.parent / str(build.get("context", "."))
        return (context / str(build.get("dockerfile", "Dockerfile"))).resolve() == DOCKERFILE
    return str(service.get("image", "")).split(":")[0] == "veriscan"


def veriscan_services() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, service in compose()["services"].items():
        if builds_veriscan(service) or runs_veriscan(service_argv(service)):
            yield name, service


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def volume_mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """target -> (source, read_only)"""
    mounts = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target, _, mode = rest.partition(":")
            mounts[target] = (source, "ro" in mode.split(","))
        else:
            mounts[volume["target"]] = (volume.get("source", ""), bool(volume.get("read_only")))
    return mounts


def test_compose_runs_every_command_and_only_tested_ones() -> None:
    services = dict(veriscan_services())
    assert services, "no service runs veriscan"
    run = set()
    for name, service in services.items():
        argv = service_argv(service)
        assert argv, f"{name} runs the image's default command: give it one"
        problem = command_problem(argv)
        assert problem is None, f"compose service {name}: {problem}"
        run.add(argv[1])
    assert run == set(COMMANDS)


def replicas(service: dict[str, Any]) -> int:
    return int((service.get("deploy") or {}).get("replicas", service.get("scale", 1)))


def test_compose_has_two_servers_and_two_workers_after_the_migration() -> None:
    services = dict(veriscan_services())
    by_command: dict[str, list[str]] = {name: [] for name in COMMANDS}
    for name, service in services.items():
        by_command[service_argv(service)[1]].append(name)
    assert sum(replicas(services[n]) for n in by_command["serve"]) >= 2
    assert sum(replicas(services[n]) for n in by_command["worker"]) >= 2
    (migrate,) = by_command["migrate"]
    assert str(services[migrate].get("restart", "no")) == "no", "a migration runs once"
    for name in by_command["serve"] + by_command["worker"]:
        depends = services[name].get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        condition = (depends.get(migrate) or {}).get("condition")
        assert condition == "service_completed_successfully", f"{name} must wait for {migrate}"


def test_compose_gives_every_veriscan_service_the_shared_settings_and_data() -> None:
    document = compose()
    named_volumes = set(document.get("volumes") or {})
    sources = set()
    for name, service in veriscan_services():
        env = environment(service)
        missing = [setting for setting in SHARED_SETTINGS if not env.get(setting)]
        assert not missing, f"compose service {name} lacks {missing}"
        mounts = volume_mounts(service)
        data_dir = env["VERISCAN_DATA_DIR"]
        assert data_dir in mounts, f"{name}: nothing mounted at VERISCAN_DATA_DIR {data_dir}"
        source, read_only = mounts[data_dir]
        assert source in named_volumes, f"{name}: {source!r} is not a named volume"
        assert not read_only, f"{name}: the data volume is read-only"
        sources.add((source, data_dir))
    assert len(sources) == 1, f"servers and workers must share one data volume: {sources}"


def test_compose_builds_the_image_from_the_repository() -> None:
    for name, service in veriscan_services():
        build = service.get("build")
        assert isinstance(build, dict), f"{name}: no build section"
        context = (COMPOSE.parent / str(build["context"])).resolve()
        assert context == ROOT, f"{name}: the build context must be the repository"
        assert (context / str(build["dockerfile"])).resolve() == DOCKERFILE


def test_nginx_balances_over_the_compose_servers_with_the_upload_limit() -> None:
    text = NGINX.read_text()
    servers = set(re.findall(r"^\s*server\s+([\w.-]+):(\d+)", text, re.M))
    expected = set()
    for name, service in veriscan_services():
        argv = service_argv(service)
        if argv[1] == "serve":
            expected.add((name, argv[argv.index("--port") + 1]))
    assert servers == expected
    assert re.search(r"^\s*ip_hash;", text, re.M), "no sticky sessions"
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_request_buffering off;" in text
    size = re.search(r"client_max_body_size\s+(\d+)m;", text)
    assert size is not None
    (_, service), *_ = veriscan_services()
    upload_mb = int(environment(service)["VERISCAN_MAX_UPLOAD_MB"])
    # The service allows 64 KiB of multipart envelope beyond the file.
    assert int(size.group(1)) > upload_mb


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None or _run([docker, "compose", "version"]).returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    env = {"POSTGRES_PASSWORD": "x", "VERISCAN_SECRET_KEY": "y"}
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )
    if nginx is None:
        pytest.skip("nginx is not installed")
    # The upstream names are compose services, which do not resolve here.
    text = re.sub(r"(?m)^(\s*server\s+)[\w.-]+:", r"\g<1>127.0.0.1:", NGINX.read_text())
    (tmp_path / "nginx.conf").write_text(text)
    result = _run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")])
    assert result.returncode == 0, result.stderr


# --- Dockerfile ------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def test_dockerfile_installs_the_package_without_test_extras() -> None:
    instructions = dockerfile_instructions()
    bases = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert bases and all(base == "python:3.11-slim-bookworm" for base in bases), bases
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any("apt-get install" in run and "libmagic1" in run for run in runs)
    installs = [run for run in runs if "pip install" in run]
    assert installs, "the package is not installed with pip"
    for run in installs + [args for keyword, args in instructions if keyword == "COPY"]:
        assert not re.search(r"\[[^\]]*\btest\b", run), f"test extras: {run}"
        for word in ("pytest", "ruff", "mypy", "playwright", "requirements-test"):
            assert word not in run, f"test dependency {word}: {run}"
        assert not re.search(r"(^|\s)(-e|--editable)\s", run), f"editable install: {run}"


def test_dockerfile_default_command_is_a_tested_one() -> None:
    (cmd,) = [args for keyword, args in dockerfile_instructions() if keyword == "CMD"]
    problem = command_problem(json.loads(cmd))
    assert problem is None, f"Dockerfile CMD: {problem}"


def test_dockerignore_lets_in_exactly_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "start from nothing (the repository holds .venv and var/)"
    allowed = {pattern[1:] for pattern in patterns if pattern.startswith("!")}
    for keyword, args in dockerfile_instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            assert set(sources) <= allowed, f"COPY {args}: not in {DOCKERIGNORE.name}"


# --- docs/deploy.md --------------------------------------------------------------------


def deploy_texts() -> list[Path]:
    return [DOCS, *sorted(p for p in DEPLOY.rglob("*") if p.is_file())]


def test_docs_name_every_deployment_file() -> None:
    text = DOCS.read_text()
    files = sorted(p.relative_to(ROOT).as_posix() for p in DEPLOY.rglob("*") if p.is_file())
    assert files
    missing = [name for name in files if name not in text]
    assert not missing, f"docs/deploy.md does not mention {missing}"
    assert "### Load figures" in text and "benchmarks.md#load" in text


@pytest.mark.parametrize("path", deploy_texts(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_setting_named_exists(path: Path) -> None:
    fields = set(Settings.model_fields)
    unknown = sorted(
        name
        for name in set(SETTING.findall(path.read_text()))
        if name.removeprefix("VERISCAN_").lower() not in fields
    )
    assert not unknown, f"{path.name} names settings that do not exist: {unknown}"


def code_block_lines(text: str) -> Iterator[str]:
    """Lines of the fenced code blocks, continuation lines joined."""
    inside = False
    pending = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("```"):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        yield pending + raw
        pending = ""


def test_commands_in_the_docs_are_tested_ones() -> None:
    found = 0
    for line in code_block_lines(DOCS.read_text()):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # a quoted Python snippet, not a command line
            continue
        for index, word in enumerate(words):
            following = words[index + 1] if index + 1 < len(words) else ""
            if Path(word).name == "veriscan" and following in COMMANDS:
                argv = []
                for part in words[index:]:
                    if part in {";", "&&", "||", "|", "&"}:
                        break
                    argv.append(part)
                argv[0] = argv[0].rpartition("=")[2]
                problem = command_problem(argv)
                assert problem is None, f"docs/deploy.md: {line.strip()}: {problem}"
                found += 1
    assert found, "docs/deploy.md shows none of the commands"
