"""YARA-X engine: the rules shipped in `engines/rules/` plus an operator's own folder.

Rules say how bad a match is with `meta: severity = "malicious"` or `"suspicious"`;
a rule without it (or with any other value) counts as suspicious, because a rule that
does not say it finds malware is more likely a hunting rule than a verdict.

The rules are compiled once, on first use, and again whenever a rule file is added,
removed or touched; the version names the sha256 of every compiled source, so cached
results of older rules are not reused.
"""

from __future__ import annotations

import hashlib
import logging
import math
import stat
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import yara_x

from veriscan.engines.base import (
    Category,
    EngineFailed,
    EngineVerdict,
    LocalEngine,
    Sample,
    clean_result,
)

logger = logging.getLogger("veriscan.engines")

BUILTIN_RULES_DIR = Path(__file__).with_name("rules")
USER_RULE_SUFFIXES = (".yar", ".yara")
YARA_X_VERSION = metadata.version("yara-x")

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


class YaraEngine(LocalEngine):
    name: ClassVar[str] = "YARA-X"
    scans_inline: ClassVar[bool] = True  # the scanner's own timeout; the GIL held (`_scan`)

    def __init__(
        self,
        user_rules_dir: Path | None = None,
        *,
        builtin_rules_dir: Path = BUILTIN_RULES_DIR,
        timeout: float | None = None,
    ) -> None:
        self.user_rules_dir = user_rules_dir
        self.builtin_rules_dir = builtin_rules_dir
        if timeout is not None:
            self.timeout = timeout
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

    def scan_file(self, sample: Sample) -> list[EngineVerdict]:
        ruleset = self._current()
        try:
            results = _scan(ruleset.rules, sample.path, self.timeout)
        except yara_x.TimeoutError as exc:
            raise TimeoutError(f"YARA-X scan took longer than {self.timeout:g}s") from exc
        except yara_x.ScanError as exc:
            raise EngineFailed(f"YARA-X could not scan the file: {exc}") from exc

        found: dict[str, Category] = {}
        for rule in results.matching_rules:
            severity = _severity(rule.metadata)
            previous = found.get(rule.identifier)
            if previous is None or _RANK[severity] < _RANK[previous]:
                found[rule.identifier] = severity
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


def _scan(rules: yara_x.Rules, path: Path, timeout: float) -> yara_x.ScanResults:
    # One scanner per scan: a yara-x Scanner is bound to the thread that made it, and
    # must be gone before an exception carries this frame to the event loop's thread.
    scanner = yara_x.Scanner(rules)
    try:
        # yara-x keeps the GIL while it scans, so the asyncio timeout in `run()` cannot
        # interrupt a scan: the scanner's own timeout is what bounds it.
        scanner.set_timeout(max(1, math.ceil(timeout)))
        # scan_file maps the file into memory rather than reading it: a large sample
        # costs address space, not RAM.
        return scanner.scan_file(str(path))
    finally:
        del scanner


def _rule_files_in(
    folder: Path, suffixes: tuple[str, ...], prefix: str, *, builtin: bool
) -> list[_RuleFile]:
    found = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        if builtin:
            raise EngineFailed(f"cannot list YARA rules in {folder}: {exc}") from exc
        logger.warning("engines.yara_rules_unreadable folder=%s error=%s", folder, exc)
        return []
    for path in entries:
        if path.suffix.lower() not in suffixes:
            continue
        try:
            info = path.stat()
        except OSError:  # removed while listing: the next call sees the folder settled
            continue
        if stat.S_ISREG(info.st_mode):
            namespace = f"{prefix}/{path.name}"
            found.append(_RuleFile(path, namespace, builtin, info.st_mtime_ns, info.st_size))
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
