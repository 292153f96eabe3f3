"""Large phone photos through the media analyzers: time and peak memory.

Prints numbers and never fails. Run with `make bench-photo` (or `python bench/large_photo.py
--megapixels 50 108 200`). Each photo is made here (smooth shading, texture and sensor-like
noise, JPEG quality 90, the aspect of a phone's 4:3 sensor) and analysed in a fresh process
by every analyzer the service runs on an image, as a worker would, so each figure's peak
resident memory (the kernel's high-water mark) is that photo's alone. Photos over Pillow's
pixel bound (89 megapixels) are decoded reduced (analyzers.pictures).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

_CHILD = r"""
import asyncio, json, sys, time
from pathlib import Path
from veriscan.analyzers.base import MediaKind, MediaSample
from veriscan.analyzers.pipeline import analyze_media
from veriscan.analyzers.registry import build_analyzers
from veriscan.core.config import Settings

path = Path(sys.argv[1])
sample = MediaSample(path, MediaKind.IMAGE, "image/jpeg", path.stat().st_size, "0" * 64)
analyzers = build_analyzers(Settings(analyzer_timeout_seconds=600))
start = time.perf_counter()
result = asyncio.run(analyze_media(sample, analyzers))
seconds = time.perf_counter() - start
findings = {
    f.signal: {"score": f.score, "weight": f.weight, "decoded_at": f.details.get("decoded_at")}
    for report in result.reports for f in report.findings
}
print(json.dumps({
    "seconds": seconds,
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    "peak_mb": next(
        int(line.split()[1]) / 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    ),
    "errors": {r.analyzer: r.error for r in result.reports if r.error},
    "resolution": result.metadata.get("resolution"),
    "verdict": str(result.fused.verdict), "risk": result.fused.risk_score,
    "findings": findings,
}))
"""


def make_photo(path: Path, megapixels: float, seed: int = 1) -> tuple[int, int]:
    """A 4:3 photo-like JPEG built in strips, so making it never holds the whole picture
    as floats."""
    width = int(math.sqrt(megapixels * 1e6 * 4 / 3)) // 16 * 16
    height = width * 3 // 4
    rng = np.random.default_rng(seed)
    canvas = Image.new("RGB", (width, height))
    strip = 512
    x = np.arange(width, dtype=np.float32)
    for top in range(0, height, strip):
        rows = min(strip, height - top)
        y = np.arange(top, top + rows, dtype=np.float32)[:, None]
        shading = 60 + 120 * (x / width) + 40 * np.sin(y / 97.0) + 30 * np.cos((x + y) / 153.0)
        noise = rng.normal(0, 6, (rows, width, 3)).astype(np.float32)
        pixels = np.clip(shading[..., None] + noise + np.array([0, 10, -10]), 0, 255)
        canvas.paste(Image.fromarray(pixels.astype(np.uint8)), (0, top))
    canvas.save(path, "JPEG", quality=90)
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[24, 50, 108, 200])
    args = parser.parse_args()
    print(f"# {platform.platform()}, Python {platform.python_version()}")
    print("| photo | file MB | decoded | verdict (risk) | analysis s | peak RSS MB | errors |")
    print("|---|---:|---|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for megapixels in args.megapixels:
            path = Path(tmp) / f"{megapixels:g}mp.jpg"
            width, height = make_photo(path, megapixels)
            child = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                print(f"| {width}x{height} | failed: {child.stderr.strip()[-300:]} |")
                continue
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            gan = figures["findings"].get("gan_fingerprint", {})
            decoded = figures["findings"].get("ela", {}).get("decoded_at") or "whole"
            print(
                f"| {width}x{height} ({width * height / 1e6:.0f} MP) "
                f"| {path.stat().st_size / 1e6:.1f} | {decoded} (gan score {gan.get('score')}) "
                f"| {figures['verdict']} ({figures['risk']}) "
                f"| {figures['seconds']:.1f} | {figures['peak_mb']:.0f} "
                f"| {figures['errors'] or 'none'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
