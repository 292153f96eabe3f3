"""Video forensics: image checks on frames sampled across the whole duration, and the
temporal consistency of motion and faces between adjacent frames.

Frames are decoded one at a time with PyAV and dropped once measured, so memory does not
grow with the video's length. At each of `SAMPLES` evenly spaced timestamps the analyzer
keeps the frame there and the one right after it: the frame goes through the image
checks (`image.analyse_pixels`), the pair through the motion checks.

Findings (scores are suspicion in 0..1, None when no frame could be decoded):

- `video_frames`: the mean over sampled frames of the weighted image scores.
- `temporal_consistency`: how much of the change between adjacent frames motion cannot
  explain, whether faces change more than their surroundings (flicker), and whether face
  boxes move with the pixels under them. High means suspicious, i.e. *inconsistent*; the
  raw consistency (1 - score) is in the details as `consistency`.

The audio track is not analysed here; `extract_audio` decodes it for the audio analyzer.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path
from typing import Any, ClassVar

import av
import cv2
import numpy as np

from veriscan.analyzers import animation
from veriscan.analyzers.base import (
    MAX_SAMPLE_RATE,
    Analyzer,
    AnalyzerFailed,
    EvidenceImage,
    Finding,
    MediaKind,
    MediaSample,
    Report,
)
from veriscan.analyzers.frames import Sampled, duration_of, frames_of, open_video
from veriscan.analyzers.image import (
    RGB,
    WEIGHTS,
    Gray,
    analyse_pixels,
    detect_faces,
    downscale,
    draw_faces,
    png,
    to_gray,
)

SAMPLES = 16
ANALYSIS_SIDE = 768  # image checks per frame: bounded so 16 frames stay a few seconds
SPECTRUM_SIDE = 512  # native-pixel crop for the spectral check of each frame
MOTION_SIDE = 480  # optical flow resolution: enough for face-sized regions
THUMB_SIDE = 200
AUDIO_RATE = 16_000
WEIGHT_FRAMES = 0.6
WEIGHT_TEMPORAL = 0.5


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def motion_pair(a: Gray, b: Gray) -> dict[str, float]:
    """Consistency of two adjacent frames (grey, same size).

    `unexplained`: the mean residual after warping `a` onto `b` with dense optical flow,
    over what a one-pixel shift of `b` would leave; real motion stays well below 1,
    content that changes for no motion (a swapped or re-rendered frame) goes above.
    When `a` shows a face (the largest is used): `face_flicker`, the log of the face's
    unexplained change over the background's; and `face_track_iou`, the overlap of the
    box moved by the flow under it with the box found again in `b` (0 when lost)."""
    h, w = a.shape
    initial = np.zeros((h, w, 2), np.float32)  # unused without OPTFLOW_USE_INITIAL_FLOW
    flow = np.asarray(cv2.calcOpticalFlowFarneback(b, a, initial, 0.5, 3, 15, 3, 5, 1.2, 0))
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(a, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    residual = np.abs(b - warped)
    shift = np.zeros_like(b)
    shift[:, :-1] += np.abs(np.diff(b, axis=1))
    shift[:-1, :] += np.abs(np.diff(b, axis=0))
    shift /= 2
    result = {"unexplained": float(residual.mean() / (shift.mean() + 0.5))}
    faces = detect_faces(a)
    if not faces:
        return result
    x, y, fw, fh = faces[0]
    core = np.zeros((h, w), dtype=bool)
    core[y + fh // 5 : y + fh * 4 // 5, x + fw // 5 : x + fw * 4 // 5] = True
    if core.sum() < 16 or (~core).sum() < 16:
        return result
    face = residual[core].mean() / (shift[core].mean() + 0.5)
    rest = residual[~core].mean() / (shift[~core].mean() + 0.5)
    result["face_flicker"] = float(np.log((face + 0.05) / (rest + 0.05)))
    # Flow maps b to a, so a's content moved by minus the flow under the face.
    dx, dy = -float(np.median(flow[core][:, 0])), -float(np.median(flow[core][:, 1]))
    moved = (x + dx, y + dy, float(fw), float(fh))
    again = detect_faces(b)
    result["face_track_iou"] = max((_iou(moved, tuple(map(float, f))) for f in again), default=0.0)
    return result


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def temporal_score(pairs: list[dict[str, float]]) -> tuple[float | None, dict[str, Any]]:
    """Combine pair measures with medians, so one scene cut does not decide the video."""
    if not pairs:
        return None, {"pairs": 0, "reason": "no pair of adjacent frames could be decoded"}
    unexplained = float(np.median([p["unexplained"] for p in pairs]))
    parts = {"motion": _sigmoid((unexplained - 1.0) / 0.2)}
    details: dict[str, Any] = {"pairs": len(pairs), "unexplained_change": round(unexplained, 3)}
    with_face = [p for p in pairs if "face_flicker" in p]
    details["pairs_with_face"] = len(with_face)
    # A face seen in under half the pairs is more likely a detector false positive.
    if len(with_face) >= max(2, len(pairs) / 2):
        flicker = float(np.median([p["face_flicker"] for p in with_face]))
        # A face whose unexplained change is ~2x its surroundings' (log 0.7).
        parts["face_flicker"] = _sigmoid((flicker - 0.7) / 0.2)
        details["face_flicker_log_ratio"] = round(flicker, 3)
        found = [p["face_track_iou"] for p in with_face if p["face_track_iou"] > 0]
        details["face_lost_share"] = round(1 - len(found) / len(with_face), 3)
        if found:
            iou = float(np.median(found))
            # Boxes re-detected on the next frame normally overlap by well over half.
            parts["face_track"] = _sigmoid((0.5 - iou) / 0.1)
            details["face_track_iou"] = round(iou, 3)
    score = float(np.mean(list(parts.values())))
    details["components"] = {k: round(v, 3) for k, v in parts.items()}
    details["consistency"] = round(1.0 - score, 4)
    return score, details


def contact_sheet(thumbs: list[tuple[float, RGB]], columns: int = 4) -> RGB:
    """Sampled frames in a grid, each labelled with its time."""
    height = max(t.shape[0] for _, t in thumbs)
    width = max(t.shape[1] for _, t in thumbs)
    rows = math.ceil(len(thumbs) / columns)
    sheet = np.full((rows * (height + 4), columns * (width + 4), 3), 24, dtype=np.uint8)
    for i, (time, thumb) in enumerate(thumbs):
        y, x = (i // columns) * (height + 4) + 2, (i % columns) * (width + 4) + 2
        sheet[y : y + thumb.shape[0], x : x + thumb.shape[1]] = thumb
        # White on a dark label: readable on any frame (yellow on a light wall was not).
        label = f"{time:.2f}s"
        (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        cv2.rectangle(sheet, (x, y), (x + w + 7, y + h + 8), (0, 0, 0), cv2.FILLED)
        cv2.putText(sheet, label, (x + 4, y + h + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    return sheet


def _frame_score(scores: dict[str, float | None]) -> float | None:
    known = [(WEIGHTS[k], v) for k, v in scores.items() if v is not None]
    if not known:
        return None
    return round(sum(w * v for w, v in known) / sum(w for w, _ in known), 4)


def _metadata(path: Path) -> dict[str, Any]:
    if animation.is_animated(path):
        return {k: v for k, v in animation.facts(path).items() if v is not None}
    with open_video(path) as container:
        facts: dict[str, Any] = {"has_audio": bool(container.streams.audio)}
        if container.bit_rate:
            facts["bitrate"] = int(container.bit_rate)
        if not container.streams.video:
            return facts
        stream = container.streams.video[0]
        ctx = stream.codec_context
        facts.update(codec=ctx.name, width=ctx.width, height=ctx.height)
        facts["resolution"] = f"{ctx.width}x{ctx.height}"
        if stream.average_rate:
            facts["fps"] = round(float(stream.average_rate), 3)
        duration = duration_of(container, stream)
        if duration:
            facts["duration"] = round(duration, 3)
    return facts


class VideoAnalyzer(Analyzer):
    """Sampled-frame image checks (`video_frames`) and temporal consistency
    (`temporal_consistency`, where a high score means inconsistent, i.e. suspicious)."""

    name: ClassVar[str] = "video_forensics"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.VIDEO})
    version: ClassVar[str] = "1"
    timeout = 120.0
    frame_samples: ClassVar[int] = SAMPLES

    def analyze(self, sample: MediaSample) -> Report:
        metadata = _metadata(sample.path)
        frames: list[dict[str, Any]] = []
        pairs: list[dict[str, float]] = []
        thumbs: list[tuple[float, RGB]] = []
        try:
            for sampled in frames_of(sample, self.name, SAMPLES):
                frames.append(self._measure(sampled, pairs, thumbs))
        except av.FFmpegError as exc:
            # Damage after some frames were read: report on what was decoded.
            if not frames:
                raise AnalyzerFailed(f"cannot decode video: {exc}") from exc
            metadata["decode_error"] = str(exc)
        metadata["frames_sampled"] = len(frames)
        findings = [self._frames_finding(frames)]
        score, details = temporal_score(pairs)
        if score is None:
            summary = "Temporal consistency not measurable: no adjacent frames decoded"
        elif score >= 0.5:
            summary = (
                "Motion or faces change between adjacent frames in ways motion does not explain"
            )
        else:
            summary = "Adjacent frames change consistently with the motion in them"
        weight = WEIGHT_TEMPORAL if score is not None else 0.0
        rounded = None if score is None else round(score, 4)
        findings.append(Finding("temporal_consistency", rounded, weight, summary, details))
        evidence = []
        if thumbs:
            sheet = png(contact_sheet(thumbs), max_side=1024)
            caption = "Sampled frames with detected faces (red: suspicious)"
            evidence.append(EvidenceImage("frames", sheet, caption))
        return Report(self.name, findings, metadata, evidence)

    @staticmethod
    def _measure(
        sampled: Sampled, pairs: list[dict[str, float]], thumbs: list[tuple[float, RGB]]
    ) -> dict[str, Any]:
        measures, pixels = analyse_pixels(sampled.frame, ANALYSIS_SIDE, SPECTRUM_SIDE)
        scores = {k: m.score for k, m in measures.items()}
        if sampled.following is not None and sampled.following.shape == sampled.frame.shape:
            a = downscale(to_gray(sampled.frame), MOTION_SIDE)
            b = downscale(to_gray(sampled.following), MOTION_SIDE)
            pairs.append(motion_pair(a, b))
        thumb = downscale(sampled.frame, THUMB_SIDE)
        thumbs.append(
            (sampled.time, draw_faces(thumb, pixels.faces, thumb.shape[1] / pixels.gray.shape[1]))
        )
        return {
            "time": round(sampled.time, 3),
            "score": _frame_score(scores),
            "scores": {k: None if v is None else round(v, 4) for k, v in scores.items()},
            "faces": len(pixels.faces),
        }

    @staticmethod
    def _frames_finding(frames: list[dict[str, Any]]) -> Finding:
        scored = [f["score"] for f in frames if f["score"] is not None]
        if not scored:
            details: dict[str, Any] = {"frames": len(frames), "reason": "no decodable video frames"}
            return Finding("video_frames", None, 0.0, "No video frames could be decoded", details)
        score = float(np.mean(scored))
        per_signal = {}
        for signal in WEIGHTS:
            values = [f["scores"][signal] for f in frames if f["scores"][signal] is not None]
            if values:
                per_signal[signal] = {
                    "mean": round(float(np.mean(values)), 4),
                    "max": round(max(values), 4),
                }
        times = [f["time"] for f in frames]
        details = {
            "frames": len(frames),
            "first_time": min(times),
            "last_time": max(times),
            "signals": per_signal,
            "per_frame": frames,
        }
        summary = (
            "Sampled frames show image-level signs of manipulation"
            if score >= 0.5
            else "Sampled frames show no strong image-level signs of manipulation"
        )
        return Finding("video_frames", round(score, 4), WEIGHT_FRAMES, summary, details)


def extract_audio(path: Path, out_wav: Path, max_seconds: float) -> bool:
    """Decode the first audio stream to a mono 16 kHz 16-bit WAV, at most `max_seconds`
    long, streaming (one decoded frame in memory at a time).

    Returns False, writing nothing, when the file has no decodable audio; raises
    AnalyzerFailed when the container cannot be opened at all."""
    limit = int(max_seconds * AUDIO_RATE)
    written = 0
    if animation.is_animated(path):
        return False  # GIF, WebP and APNG carry no sound
    with open_video(path) as container:
        if not container.streams.audio or limit <= 0:
            return False
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or 0
        if rate > MAX_SAMPLE_RATE:
            # The resampler's filter grows with the rate ratio: refuse before building it.
            raise AnalyzerFailed(f"the soundtrack declares {rate} Hz")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
        with wave.open(str(out_wav), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(AUDIO_RATE)

            def write(chunks: list[av.AudioFrame]) -> None:
                nonlocal written
                for chunk in chunks:
                    pcm = np.asarray(chunk.to_ndarray(), dtype=np.int16).reshape(-1)[
                        : limit - written
                    ]
                    wav.writeframes(pcm.astype("<i2").tobytes())
                    written += len(pcm)

            try:
                for frame in container.decode(stream):
                    write(resampler.resample(frame))
                    if written >= limit:
                        break
                else:
                    write(resampler.resample(None))
            except av.FFmpegError:
                pass  # a damaged tail: keep the audio decoded before it
    if written == 0:
        out_wav.unlink(missing_ok=True)
        return False
    return True
