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
