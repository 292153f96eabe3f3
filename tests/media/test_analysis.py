"""Media scans analysed for real, end to end over HTTP."""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.conftest import Account
from tests.live import LiveServer
from tests.media.helpers import photo_jpeg, upload_media, wait_media
from tests.test_realtime import listening


def jpeg_with_gps(lat: float, lon: float) -> bytes:
    image = Image.open(io.BytesIO(photo_jpeg(seed=5, size=(400, 300))))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return (degrees, minutes, round((value - degrees - minutes / 60) * 3600, 4))

    gps.update({1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def a1111_png() -> bytes:
    info = PngInfo()
    info.add_text(
        "parameters",
        "a castle at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Model: sd15",
    )
    out = io.BytesIO()
    Image.open(io.BytesIO(photo_jpeg(seed=6))).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def small_video(path: Path) -> bytes:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(20):
            frame = np.full((120, 160, 3), 40, dtype=np.uint8)
            frame[30:60, 10 + 5 * i : 40 + 5 * i] = (200, 80, 40)
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = i
            video_frame.time_base = Fraction(1, 10)
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def test_an_image_is_analysed(api: httpx.Client, account: Account) -> None:
    response = upload_media(api, account, jpeg_with_gps(37.7749, -122.4194), "street.jpg")
    assert response.status_code == 200, response.text  # finished within the wait
    data = response.json()["data"]
    assert data["status"] == "COMPLETED"
    assert data["result"] in ("DEEPFAKE", "SUSPICIOUS", "AUTHENTIC")
    assert isinstance(data["riskScore"], int) and 0 <= data["riskScore"] <= 100
    assert isinstance(data["confidence"], int) and 0 <= data["confidence"] <= 100
    assert (
        data["audioScore"] is None
        and data["videoScore"] is None
        and data["temporalConsistency"] is None
    )
    assert isinstance(data["ganFingerprint"], int)
    assert data["metadata"]["resolution"] == "400x300"
    assert data["metadata"]["codec"] == "jpeg"
    assert round(data["gpsCoordinates"]["latitude"], 3) == 37.775
    assert round(data["gpsCoordinates"]["longitude"], 3) == -122.419
    assert data["explanation"]
    names = {item["name"] for item in data["evidence"]}
    assert "ela-heatmap" in names
    heatmap = next(item for item in data["evidence"] if item["name"] == "ela-heatmap")
    picture = api.get(heatmap["url"], headers=account.headers)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert picture.content.startswith(b"\x89PNG")


def test_a_generator_declaration_decides(api: httpx.Client, account: Account) -> None:
    data = upload_media(api, account, a1111_png(), "castle.png").json()["data"]
    assert data["status"] == "COMPLETED"
    assert data["result"] == "DEEPFAKE" and data["riskScore"] >= 95 and data["confidence"] >= 95
    assert "AUTOMATIC1111" in data["explanation"]
    assert data["gpsCoordinates"] is None
    # The explanation is searchable.
    found = api.get(
        "/api/scans/history", headers=account.headers, params={"search": "automatic1111"}
    )
    assert [item["id"] for item in found.json()["data"]] == [data["id"]]


def test_a_video_is_analysed(api: httpx.Client, account: Account, tmp_path: Path) -> None:
    data = upload_media(api, account, small_video(tmp_path / "clip.mp4"), "clip.mp4").json()["data"]
    final = wait_media(api, account, data["id"])
    assert final["mediaType"] == "VIDEO" and final["status"] == "COMPLETED"
    assert isinstance(final["videoScore"], int)
    assert final["metadata"]["resolution"] == "160x120" and final["metadata"]["fps"] == 10
    assert final["audioScore"] is None  # no sound track


def test_media_events_reach_the_owner_and_staff(
    server: LiveServer, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner, analyst, other = make_account(), make_account("analyst"), make_account()
    with (
        listening(server, owner.access_token) as mine,
        listening(server, analyst.access_token) as staff,
        listening(server, other.access_token) as theirs,
    ):
        data = upload_media(api, owner, photo_jpeg(seed=9), "x.jpg").json()["data"]
        complete = mine.wait_for("scan:complete", data["id"])
        assert staff.wait_for("scan:complete", data["id"]) == complete
    final = wait_media(api, owner, data["id"])
    assert complete == {
        "scanId": data["id"],
        "kind": "media",
        "result": final["result"],
        "riskScore": final["riskScore"],
    }
    stages = [
        d["stage"] for n, d in mine.events if n == "scan:progress" and d["scanId"] == data["id"]
    ]
    assert "metadata" in stages and "fusion" in stages
    assert not [d for _, d in theirs.events if d.get("scanId") == data["id"]]


def test_truncated_media_fails_with_a_reason(api: httpx.Client, account: Account) -> None:
    broken = photo_jpeg(seed=3)[:400]
    response = upload_media(api, account, broken, "cut.jpg")
    assert response.status_code == 200, response.text
    final = response.json()["data"]
    assert final["status"] == "FAILED"
    assert final["error"] == (
        "The file could not be analysed: image is corrupt or truncated: Truncated File Read"
    )
    assert final["result"] is None and final["riskScore"] is None


def heic_photo() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.open(io.BytesIO(photo_jpeg(seed=8, size=(640, 480)))).save(out, "HEIF", quality=85)
    return out.getvalue()


def test_a_heic_photo_is_analysed(api: httpx.Client, account: Account) -> None:
    # The iPhone's default format: decoded through pillow-heif, judged like any photo.
    data = upload_media(api, account, heic_photo(), "IMG_0001.HEIC").json()["data"]
    final = wait_media(api, account, data["id"])
    assert (final["mediaType"], final["status"]) == ("IMAGE", "COMPLETED")
    assert final["result"] in ("DEEPFAKE", "SUSPICIOUS", "AUTHENTIC")
    assert (final["metadata"]["format"], final["metadata"]["resolution"]) == ("heic", "640x480")
    # Nothing but the learned detector judged it: its probability is the risk.
    assert final["ganFingerprint"] == final["riskScore"]
    assert "learned image detector" in final["explanation"]


def test_an_animated_gif_is_analysed_as_a_video(api: httpx.Client, account: Account) -> None:
    frames = [Image.open(io.BytesIO(photo_jpeg(seed=20 + i, size=(160, 120)))) for i in range(10)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    data = upload_media(api, account, out.getvalue(), "loop.gif").json()["data"]
    final = wait_media(api, account, data["id"])
    assert (final["mediaType"], final["status"]) == ("VIDEO", "COMPLETED")
    meta = final["metadata"]
    assert (meta["codec"], meta["duration"], meta["fps"]) == ("gif", 1.0, 10)
    assert isinstance(final["videoScore"], int)
    assert final["audioScore"] is None
    assert "8 frames" in final["explanation"]
