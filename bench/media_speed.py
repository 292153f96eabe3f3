"""Media analysis with the learned detectors: time per file and a worker's peak memory.

Prints numbers and never fails. Run with `make bench-media`. Three files are made here: a
12-megapixel JPEG (photo-like, quality 90), a 30 s 1080p H.264 video at 30 fps with a
spoken soundtrack (AAC), and 30 s of speech (WAV, 16 kHz). One fresh process plays a media
worker: it builds every analyzer the service runs (loading each model once), then analyses
the three files in turn, as a worker would (`analyzers.pipeline.analyze_media`, all
analyzers of a file concurrently, the video's soundtrack included). Each time is set
beside a reference measured in the same process: decoding the same file with the library
the analyzers use (Pillow, PyAV, soundfile), so the ratio says what the analysis costs
over reading the file once. Peak memory is the process's VmHWM (kernel high-water mark)
after each file: everything loaded, models included.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.large_photo import make_photo
from tests.analyzers.test_audio import RATE as VOICE_RATE
from tests.analyzers.test_audio import recorded_voice

_CHILD = r"""
import asyncio, json, sys, time
from pathlib import Path

def peak_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    return next(int(line.split()[1]) / 1024 for line in
                Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))

start = time.perf_counter()
import av, soundfile
from PIL import Image
from veriscan.analyzers.base import MediaKind, MediaSample
from veriscan.analyzers.pipeline import analyze_media
from veriscan.analyzers.registry import build_analyzers
from veriscan.core.config import Settings
analyzers = build_analyzers(Settings(analyzer_timeout_seconds=600))
print(json.dumps({"what": "load", "seconds": time.perf_counter() - start, "peak_mb": peak_mb()}),
      flush=True)

def reference(path, kind):
    start = time.perf_counter()
    if kind is MediaKind.IMAGE:
        with Image.open(path) as image:
            image.load()
    elif kind is MediaKind.VIDEO:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                pass
    else:
        soundfile.read(path)
    return time.perf_counter() - start

for raw, kind, mime in (
    (sys.argv[1], MediaKind.IMAGE, "image/jpeg"),
    (sys.argv[2], MediaKind.VIDEO, "video/mp4"),
    (sys.argv[3], MediaKind.AUDIO, "audio/wav"),
):
    path = Path(raw)
    sample = MediaSample(path, kind, mime, path.stat().st_size, "0" * 64)
    decode = reference(path, kind)
    start = time.perf_counter()
    result = asyncio.run(analyze_media(sample, analyzers))
    seconds = time.perf_counter() - start
    print(json.dumps({
        "what": kind.value.lower(), "seconds": seconds, "decode_seconds": decode,
        "peak_mb": peak_mb(),
        "errors": {r.analyzer: r.error for r in result.reports if r.error},
        "detectors": sorted(f.signal for r in result.reports for f in r.findings
                            if f.calibrated and f.score is not None),
        "verdict": str(result.fused.verdict), "risk": result.fused.risk_score,
    }), flush=True)
"""

LIMITS = {"load": None, "image": 1.5, "video": 15.0, "audio": 1.0}


def make_video(path: Path, seconds: int = 30, fps: int = 30) -> None:
    """1080p H.264 of a moving, textured scene, with a spoken soundtrack (AAC, 44.1 kHz)."""
    width, height = 1920, 1080
    rng = np.random.default_rng(7)
    grain = rng.normal(0, 5, (height, width, 3)).astype(np.float32)
    x = np.arange(width, dtype=np.float32)[None, :]
    y = np.arange(height, dtype=np.float32)[:, None]
    voice = recorded_voice(seed=4, seconds=float(seconds))
    voice = np.interp(
        np.arange(int(seconds * 44100)) * VOICE_RATE / 44100, np.arange(voice.size), voice
    ).astype(np.float32)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "23"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=44100, layout="mono")
        for i in range(seconds * fps):
            shade = 90 + 60 * np.sin((x + 4 * i) / 211.0) + 40 * np.cos((y - 3 * i) / 157.0)
            frame = np.clip(shade[..., None] + grain + np.array([10, 0, -10]), 0, 255)
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame.astype(np.uint8), "rgb24")))
        out.mux(video.encode(None))
        for start in range(0, voice.size, 1024):
            chunk = av.AudioFrame.from_ndarray(
                voice[None, start : start + 1024], format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 44100, start
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    print(f"# {platform.platform()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        photo, video, speech = Path(tmp) / "12mp.jpg", Path(tmp) / "30s.mp4", Path(tmp) / "30s.wav"
        width, height = make_photo(photo, 12)
        make_video(video)
        soundfile.write(speech, recorded_voice(seed=5, seconds=30.0), VOICE_RATE)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, str(photo), str(video), str(speech)],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(f"failed: {child.stderr.strip()[-600:]}")
            return
        names = {
            "load": "building the analyzers (models loaded)",
            "image": f"{width}x{height} JPEG ({width * height / 1e6:.0f} MP, "
            f"{photo.stat().st_size / 1e6:.1f} MB)",
            "video": f"30 s 1080p30 H.264 + AAC speech ({video.stat().st_size / 1e6:.1f} MB)",
            "audio": "30 s speech, WAV 16 kHz",
        }
        print(
            "| file | analysis s | limit s | decode s | analysis / decode | peak RSS MB "
            "| calibrated detectors | verdict (risk) | errors |"
        )
        print("|---|---:|---:|---:|---:|---:|---|---|---|")
        for line in child.stdout.strip().splitlines():
            row = json.loads(line)
            what = row["what"]
            decode = row.get("decode_seconds")
            ratio = f"{row['seconds'] / decode:.1f}" if decode else ""
            verdict = f"{row['verdict']} ({row['risk']})" if "verdict" in row else ""
            print(
                f"| {names[what]} | {row['seconds']:.2f} | {LIMITS[what] or ''} "
                f"| {f'{decode:.2f}' if decode else ''} | {ratio} | {row['peak_mb']:.0f} "
                f"| {', '.join(row.get('detectors', []))} "
                f"| {verdict} "
                f"| {row.get('errors') or ''} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
