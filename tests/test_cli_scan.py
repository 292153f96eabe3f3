"""`veriscan scan`: the real command in a subprocess, on files with known answers."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.media.helpers import photo_jpeg

# Two halves, so that this source file is not itself the EICAR test file to a scanner.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CLEAN = b"just some notes, nothing to see here\n"


def a1111_png() -> bytes:
    """A PNG with the `parameters` text chunk AUTOMATIC1111's web UI writes."""
    info = PngInfo()
    info.add_text(
        "parameters",
        "a castle at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Model: sd15",
    )
    out = io.BytesIO()
    Image.open(io.BytesIO(photo_jpeg(seed=6))).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def run_scan(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # No clamd and no .env here: the offline scan is YARA-X's and the media analyzers'.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERISCAN_")}
    env["COLUMNS"] = "200"  # one table row per file, whatever the terminal
    completed = subprocess.run(
        [sys.executable, "-m", "veriscan", "scan", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in completed.stdout + completed.stderr, completed.stderr
    return completed


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def clean_file(tmp_path: Path) -> Path:
    path = tmp_path / "clean" / "notes.txt"
    path.parent.mkdir()
    path.write_bytes(CLEAN)
    return path


@pytest.fixture
def mixed_folder(tmp_path: Path) -> dict[str, bytes]:
    """A folder (with a subfolder) of a clean file, EICAR and an AI-generated PNG."""
    contents = {"notes.txt": CLEAN, "nested/eicar.com": EICAR, "castle.png": a1111_png()}
    for name, content in contents.items():
        path = tmp_path / "mixed" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return contents


def test_a_clean_file_exits_0_with_a_table(clean_file: Path, tmp_path: Path) -> None:
    completed = run_scan(clean_file, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "notes.txt" in completed.stdout
    assert "clean 0/1" in completed.stdout
    assert "1 file(s): 0 flagged, 0 error(s)" in completed.stdout


def test_a_folder_with_eicar_and_an_a1111_png_exits_1_and_reports_each_file(
    tmp_path: Path, mixed_folder: dict[str, bytes]
) -> None:
    completed = run_scan("--json", tmp_path / "mixed", cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    document = json.loads(completed.stdout)
    by_name = {
        Path(item["path"]).relative_to(tmp_path / "mixed").as_posix(): item
        for item in document["results"]
    }
    assert set(by_name) == set(mixed_folder)
    for name, content in mixed_folder.items():
        item = by_name[name]
        assert item["sha256"] == sha256(content)
        assert item["md5"] == hashlib.md5(content).hexdigest()
        assert item["size"] == len(content)
        assert item["error"] is None

    eicar = by_name["nested/eicar.com"]
    assert eicar["malware"]["verdict"] == "malicious"
    assert eicar["malware"]["detection_ratio"] == "1/1"
    [row] = eicar["malware"]["results"]
    assert row["engine_name"] == "YARA-X" and row["category"] == "malicious"
    assert eicar["mediaType"] is None and eicar["media"] is None

    png = by_name["castle.png"]
    assert png["mimeType"] == "image/png" and png["mediaType"] == "IMAGE"
    assert png["malware"]["verdict"] == "clean"
    media: dict[str, Any] = png["media"]
    assert media["verdict"] == "DEEPFAKE"
    assert media["riskScore"] >= 95
    assert "AUTOMATIC1111" in media["explanation"]
    assert media["audioScore"] is None

    notes = by_name["notes.txt"]
    assert notes["malware"]["verdict"] == "clean" and notes["media"] is None
    assert document["summary"] == {"files": 3, "flagged": 2, "errors": 0, "engines": ["YARA-X"]}


def test_eicar_alone_exits_1_and_the_table_names_the_detection(tmp_path: Path) -> None:
    sample = tmp_path / "eicar.com"
    sample.write_bytes(EICAR)
    completed = run_scan(sample, cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert "malicious 1/1" in completed.stdout


def test_a_missing_path_exits_2_with_a_message(clean_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file.bin"
    completed = run_scan("--json", clean_file, missing, cwd=tmp_path)
    assert completed.returncode == 2
    document = json.loads(completed.stdout)
    [ok, bad] = document["results"]
    assert ok["sha256"] == sha256(CLEAN) and ok["error"] is None
    assert bad == {
        "path": str(missing),
        "size": None,
        "sha256": None,
        "sha1": None,
        "md5": None,
        "mimeType": None,
        "mediaType": None,
        "malware": None,
        "media": None,
        "error": "no such file or directory",
    }
    assert f"error: {missing}: no such file or directory" in completed.stderr


def test_a_dangling_link_in_a_folder_is_an_error(tmp_path: Path, clean_file: Path) -> None:
    (clean_file.parent / "gone").symlink_to(tmp_path / "nowhere")
    completed = run_scan(clean_file.parent, cwd=tmp_path)
    assert completed.returncode == 2
    assert "gone" in completed.stderr


def test_an_empty_folder_scans_nothing_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    completed = run_scan(tmp_path / "empty", cwd=tmp_path)
    assert completed.returncode == 2
    assert "nothing to scan" in completed.stderr


def test_help_documents_the_exit_status(tmp_path: Path) -> None:
    completed = run_scan("--help", cwd=tmp_path)
    assert completed.returncode == 0
    assert "Exit status" in completed.stdout
