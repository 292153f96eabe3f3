"""YARA-X engine: the rules shipped in `engines/rules/` plus an operator's own folder.

Rules say how bad a match is with `meta: severity = "malicious"` or `"suspicious"`;
a rule without it (or with any other value) counts as suspicious, because a rule that
does not say it finds malware is more likely a hunting rule than a verdict.

The rules are compiled once, on first use, and again whenever a rule file is added,
removed or touched; the version names the sha256 of every compiled source, so cached
results of older rules are not reused.

yara-x keeps the GIL while it scans, so a scan in this process stops every other thread
of it (requests, socket.io, other scans) until it ends. A small file is scanned here all
the same (`scan_here`: well under a millisecond, where a hop to another thread or process
costs more than the scan), but for at most INLINE_SECONDS: a rule that takes longer on it
(an operator's slow rule, a file built to be slow) gives up and the runner scans it again
with `scan_file`. That one, for larger files too, scans in a child process of its own
(`_Child`): this process waits on a pipe, with the GIL free, and the claim's heartbeat
renews the scan's lease meanwhile.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import logging
import math
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

import yara_x

from veriscan.engines.base import (
    Category,
    EngineFailed,
    EngineVerdict,
    LocalEngine,
    Sample,
    TooSlowHere,
    clean_result,
)

logger = logging.getLogger("veriscan.engines")

BUILTIN_RULES_DIR = Path(__file__).with_name("rules")
USER_RULE_SUFFIXES = (".yar", ".yara")
YARA_X_VERSION = metadata.version("yara-x")

#: Files up to this size are scanned in this process (`scan_here`): YARA-X's shipped rules
#: go through about a gigabyte a second here, so a few milliseconds at most.
INLINE_MAX_BYTES = 4 * 1024 * 1024
#: How long a scan in this process may hold it: yara-x's shortest timeout, which ends a scan
#: after up to a second (its clock ticks once a second; see `_yara_timeout`).
INLINE_SECONDS = 1
#: How long past its own timeout the child process may take to answer before it is
#: taken for hung and replaced.
CHILD_GRACE_SECONDS = 10.0

# A rule's match as the child process reports it: its identifier and its metadata.
Match = tuple[str, tuple[tuple[str, Any], ...]]

# Lower sorts first: the most severe match leads the result.
_RANK = {Category.MALICIOUS: 0, Category.SUSPICIOUS: 1}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _RuleFile:
    path: Path
    namespace: str
    builtin: bool
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class _Ruleset:
    fingerprint: tuple[tuple[str, int, int], ...]
    rules: yara_x.Rules
    version: str
    update_date: datetime | None
    files: int

    @cached_property
    def serialized(self) -> bytes:
        """The compiled rules as the child process loads them (once per version)."""
        buffer = io.BytesIO()
        self.rules.serialize_into(buffer)
        return buffer.getvalue()


class YaraEngine(LocalEngine):
    name: ClassVar[str] = "YARA-X"

    def __init__(
        self,
        user_rules_dir: Path | None = None,
        *,
        builtin_rules_dir: Path = BUILTIN_RULES_DIR,
        timeout: float | None = None,
        inline_max_bytes: int = INLINE_MAX_BYTES,
    ) -> None:
        self.user_rules_dir = user_rules_dir
        self.builtin_rules_dir = builtin_rules_dir
        if timeout is not None:
            self.timeout = timeout
        self.inline_max_bytes = inline_max_bytes
        self._lock = threading.Lock()
        self._ruleset: _Ruleset | None = None

    def version(self) -> str:
        return self._current().version

    def available(self) -> bool:
        try:
            self._current()
        except EngineFailed as exc:
            logger.warning("engines.yara_unavailable error=%s", exc)
            return False
        return True

    def scans_inline(self, sample: Sample) -> bool:
        return sample.size <= self.inline_max_bytes

    def scan_here(self, sample: Sample) -> list[EngineVerdict]:
        """In this process, for at most INLINE_SECONDS: past them `TooSlowHere`, and the
        runner scans the file in the child, with the engine's whole timeout."""
        ruleset = self._current()
        try:
            results = _scan(ruleset.rules, sample.path, INLINE_SECONDS)
        except yara_x.TimeoutError as exc:
            raise TooSlowHere from exc
        except yara_x.ScanError as exc:
            raise EngineFailed(f"YARA-X could not scan the file: {exc}") from exc
        return self._verdicts(ruleset, _matches(results))

    def scan_file(self, sample: Sample) -> list[EngineVerdict]:
        """In the child process, with the engine's whole timeout: this process's GIL stays
        free meanwhile."""
        ruleset = self._current()
        return self._verdicts(ruleset, _CHILDREN.scan(ruleset, sample.path, self.timeout))

    def _verdicts(self, ruleset: _Ruleset, matches: list[Match]) -> list[EngineVerdict]:
        found: dict[str, Category] = {}
        for identifier, rule_metadata in matches:
            severity = _severity(rule_metadata)
            previous = found.get(identifier)
            if previous is None or _RANK[severity] < _RANK[previous]:
                found[identifier] = severity
        if not found:
            category, detection = Category.UNDETECTED, None
        else:
            names = sorted(found, key=lambda name: _RANK[found[name]])
            category, detection = found[names[0]], ", ".join(names)
        return [
            EngineVerdict(
                engine_name=self.name,
                engine_version=ruleset.version,
                category=category,
                result=clean_result(category, detection),
                update_date=ruleset.update_date,
            )
        ]

    def _current(self) -> _Ruleset:
        files = self._list_rule_files()
        fingerprint = tuple((str(f.path), f.mtime_ns, f.size) for f in files)
        ruleset = self._ruleset
        if ruleset is not None and ruleset.fingerprint == fingerprint:
            return ruleset
        with self._lock:
            ruleset = self._ruleset
            if ruleset is None or ruleset.fingerprint != fingerprint:
                ruleset = _compile(files, fingerprint)
                self._ruleset = ruleset
                logger.info(
                    "engines.yara_compiled files=%d version=%s",
                    ruleset.files,
                    ruleset.version,
                )
        return ruleset

    def _list_rule_files(self) -> list[_RuleFile]:
        files = _rule_files_in(self.builtin_rules_dir, (".yar",), "veriscan", builtin=True)
        if not files:
            raise EngineFailed(f"no YARA rules found in {self.builtin_rules_dir}")
        if self.user_rules_dir is not None and self.user_rules_dir.is_dir():
            files += _rule_files_in(self.user_rules_dir, USER_RULE_SUFFIXES, "user", builtin=False)
        return files


def _yara_timeout(seconds: float) -> int:
    """yara-x's timeout for a scan to be allowed `seconds`. yara-x counts whole seconds on
    a clock that ticks once a second, so a timeout of n ends a scan after n - 1 to n
    seconds (measured: 0.57 s for a timeout of 1); one more lets the scan have its time."""
    return math.ceil(seconds) + 1


def _scan(rules: yara_x.Rules, path: Path, yara_seconds: int) -> yara_x.ScanResults:
    # One scanner per scan: a yara-x Scanner is bound to the thread that made it, and
    # must be gone before an exception carries this frame to the event loop's thread.
    scanner = yara_x.Scanner(rules)
    try:
        # yara-x keeps the GIL while it scans, so nothing else in its process can
        # interrupt a scan: the scanner's own timeout is what bounds it.
        scanner.set_timeout(yara_seconds)
        # scan_file maps the file into memory rather than reading it: a large sample
        # costs address space, not RAM.
        return scanner.scan_file(str(path))
    finally:
        del scanner


def _matches(results: yara_x.ScanResults) -> list[Match]:
    return [(rule.identifier, tuple(rule.metadata)) for rule in results.matching_rules]


class _Child:
    """A child process that scans for this one, one file at a time, started on first use
    (and again if it dies or hangs). It keeps the rules of the last version it was sent.
    `_Children` hands them out.

    A new interpreter, not a fork (this process has threads). It ends when its pipe
    closes, which this process's end does when it exits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._loaded: str | None = None

    def scan(self, ruleset: _Ruleset, path: Path, timeout: float) -> list[Match]:
        with self._lock:
            connection = self._started()
            rules = None if self._loaded == ruleset.version else ruleset.serialized
            try:
                connection.send((ruleset.version, rules, str(path), timeout))
                self._loaded = ruleset.version
                answered = connection.poll(_yara_timeout(timeout) + CHILD_GRACE_SECONDS)
                if answered:
                    outcome, value = connection.recv()
            except (EOFError, OSError) as exc:
                self._stop()
                raise EngineFailed("the YARA-X scanning process ended", retryable=True) from exc
            if not answered:  # hung: raised here, as TimeoutError is an OSError
                self._stop()
                raise TimeoutError(f"YARA-X scan took longer than {timeout:g}s")
        if outcome == "timeout":
            raise TimeoutError(f"YARA-X scan took longer than {timeout:g}s")
        if outcome == "error":
            raise EngineFailed(f"YARA-X could not scan the file: {value}")
        matches: list[Match] = value
        return matches

    def _started(self) -> Connection:
        if self._process is not None and self._process.poll() is None:
            assert self._connection is not None
            return self._connection
        self._stop()
        ours, theirs = socket.socketpair()
        with ours, theirs:
            # A plain child process, not multiprocessing's spawn: that would import the
            # parent's main script again, which not every caller guards.
            process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed code)
                [sys.executable, "-c", _CHILD_CODE, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C is this process's to act on
            )
            self._process, self._connection = process, Connection(ours.detach())
        logger.info("engines.yara_child_started pid=%s", process.pid)
        return self._connection

    def close(self) -> None:
        """End the child process (at this process's exit). A scan on a thread pool's thread
        is waited for before that: Python joins those threads before atexit handlers."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    def _stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = self._connection = None
        self._loaded = None


class _Children:
    """Up to `most` child processes, one scan each at a time: a file that keeps one busy
    to its timeout leaves the others to the rest (yara-x's scan is one core's work)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._changed = threading.Condition()
        self._idle: list[_Child] = []
        self.every: list[_Child] = []

    def scan(self, ruleset: _Ruleset, path: Path, timeout: float) -> list[Match]:
        """Scan in a free child; the time spent waiting for one counts in `timeout`, so a
        scan its caller has given up on never runs later."""
        deadline = time.monotonic() + timeout
        child = self._take(deadline)
        if child is None:
            raise TimeoutError(f"YARA-X scan took longer than {timeout:g}s (no free process)")
        try:
            return child.scan(ruleset, path, max(deadline - time.monotonic(), 0.0))
        finally:
            with self._changed:
                self._idle.append(child)
                self._changed.notify()

    def _take(self, deadline: float) -> _Child | None:
        with self._changed:
            while not self._idle and len(self.every) >= self.most:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)
            if self._idle:
                return self._idle.pop()
            child = _Child()
            self.every.append(child)
            return child

    def close(self) -> None:
        for child in self.every:
            child.close()


_CHILDREN = _Children(most=max(1, min(os.cpu_count() or 1, 4)))
atexit.register(_CHILDREN.close)


_CHILD_CODE = (
    "import sys; from veriscan.engines.yara import child_main; child_main(int(sys.argv[1]))"
)


def child_main(fd: int) -> None:
    """The child process: scan each file sent on the socket `fd`, until it closes."""
    connection = Connection(fd)
    rules: yara_x.Rules | None = None
    while True:
        try:
            _version, serialized, path, timeout = connection.recv()
        except (EOFError, OSError):
            return
        if serialized is not None:
            rules = yara_x.Rules.deserialize_from(io.BytesIO(serialized))
        assert rules is not None, "the parent sends the rules with the first file"
        try:
            answer: tuple[str, Any] = (
                "ok",
                _matches(_scan(rules, Path(path), _yara_timeout(timeout))),
            )
        except yara_x.TimeoutError:
            answer = ("timeout", None)
        except yara_x.ScanError as exc:
            answer = ("error", str(exc))
        except Exception as exc:  # a bad path, say: an answer, not the child's end
            answer = ("error", f"{type(exc).__name__}: {exc}")
        connection.send(answer)


def _rule_files_in(
    folder: Path, suffixes: tuple[str, ...], prefix: str, *, builtin: bool
) -> list[_RuleFile]:
    """The rule files in `folder`, by name. Listed before every scan (a changed file is a
    new version), so with `os.scandir` rather than a Path per entry."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(
                (e for e in listing if os.path.splitext(e.name)[1].lower() in suffixes),
                key=lambda entry: entry.name,
            )
    except OSError as exc:
        if builtin:
            raise EngineFailed(f"cannot list YARA rules in {folder}: {exc}") from exc
        logger.warning("engines.yara_rules_unreadable folder=%s error=%s", folder, exc)
        return []
    found = []
    for entry in entries:
        try:
            info = entry.stat()
        except OSError:  # removed while listing: the next call sees the folder settled
            continue
        if stat.S_ISREG(info.st_mode):
            namespace = f"{prefix}/{entry.name}"
            found.append(
                _RuleFile(Path(entry.path), namespace, builtin, info.st_mtime_ns, info.st_size)
            )
    return found


def _compile(files: list[_RuleFile], fingerprint: tuple[tuple[str, int, int], ...]) -> _Ruleset:
    # Includes would let a rule read any file the service can, and would hide sources
    # from the version hash.
    compiler = yara_x.Compiler(includes_enabled=False)
    digest = hashlib.sha256()
    compiled: list[_RuleFile] = []
    for rule_file in files:
        try:
            source = rule_file.path.read_text(encoding="utf-8")
            # Checked alone first: a file that fails half-way would otherwise leave the
            # rules before the error in the shared compiler.
            yara_x.Compiler(includes_enabled=False).add_source(source, str(rule_file.path))
        except (OSError, UnicodeDecodeError, yara_x.CompileError) as exc:
            if rule_file.builtin:
                raise EngineFailed(f"shipped YARA rules {rule_file.path.name}: {exc}") from exc
            logger.warning(
                "engines.yara_rule_skipped file=%s error=%s", rule_file.path, _headline(exc)
            )
            continue
        compiler.new_namespace(rule_file.namespace)
        compiler.add_source(source, str(rule_file.path))
        for part in (rule_file.namespace, source):
            encoded = part.encode()
            digest.update(len(encoded).to_bytes(8, "big") + encoded)
        compiled.append(rule_file)
    newest = max(f.mtime_ns for f in compiled)
    # From nanoseconds without a float in between, so the date is exactly the file's.
    update_date = _EPOCH + timedelta(microseconds=newest // 1000)
    return _Ruleset(
        fingerprint=fingerprint,
        rules=compiler.build(),
        version=f"yara-x {YARA_X_VERSION}; rules {digest.hexdigest()[:12]}",
        update_date=update_date,
        files=len(compiled),
    )


def _severity(rule_metadata: tuple[tuple[str, object], ...]) -> Category:
    for key, value in rule_metadata:
        if key == "severity" and isinstance(value, str) and value.lower() == "malicious":
            return Category.MALICIOUS
    return Category.SUSPICIOUS


def _headline(exc: BaseException) -> str:
    """yara-x errors draw the source around the error; the log keeps the message and the
    `--> file:line:column` pointer under it."""
    lines = str(exc).strip().splitlines()[:2]
    return " ".join(line.strip() for line in lines) or type(exc).__name__
