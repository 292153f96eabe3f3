"""Media files the tests make themselves, and waiting for media scans."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import numpy as np
from PIL import Image

from tests.conftest import Account


def photo_jpeg(seed: int = 0, size: tuple[int, int] = (160, 120)) -> bytes:
    """A small camera-like picture: smooth gradients with sensor-like noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 128 / (width + height)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def upload_media(
    client: httpx.Client,
    account: Account,
    content: bytes,
    name: str = "photo.jpg",
    tags: str | None = None,
) -> httpx.Response:
    data = {"tags": tags} if tags is not None else None
    return client.post(
        "/api/scans/upload", headers=account.headers, files={"file": (name, content)}, data=data
    )


def wait_media(
    client: httpx.Client, account: Account, scan_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/scans/{scan_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        if data["status"] in ("COMPLETED", "FAILED"):
            return data
        assert time.monotonic() < deadline, f"media scan still {data['status']}"
        time.sleep(0.1)


def webm_video(seconds: float = 2.0) -> bytes:
    """A VP8 + Opus WebM, 160x120 at 25 fps: a moving square and a tone (a format every
    browser plays, unlike H.264 in a Chromium built without it)."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="webm") as container:
        video = container.add_stream("libvpx", rate=25)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        sound = container.add_stream("libopus", rate=48000, layout="mono")
        for i in range(int(seconds * 25)):
            pixels = np.full((120, 160, 3), 60, np.uint8)
            pixels[40:80, 4 * i % 120 : 4 * i % 120 + 40] = (220, 90, 30)
            container.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(video.encode(None))
        t = np.arange(int(48000 * seconds)) / 48000
        tone = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        for start in range(0, tone.size, 960):
            frame = av.AudioFrame.from_ndarray(
                tone[start : start + 960].reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate, frame.pts = 48000, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return out.getvalue()
