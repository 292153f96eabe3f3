"""OnnxDetector with tiny models built here with onnx.helper (nothing is downloaded).

The image model is sigmoid(mean of the normalised pixels): with mean 0.5 and std 0.5, a
white picture feeds it 1.0 everywhere (score sigmoid(1) = 0.7311) and a black one -1.0
(sigmoid(-1) = 0.2689). The audio model is sigmoid(mean power): a full-scale sine has
power 1/2 (sigmoid(0.5) = 0.6225), silence 0 (0.5).
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import av
import numpy as np
import onnx
import pytest
import soundfile
from onnx import TensorProto, helper
from PIL import Image

from veriscan.analyzers.base import MediaKind, MediaSample
from veriscan.analyzers.learned import DetectorSpec, ModelError, OnnxDetector, load_detectors

HALF = (0.5, 0.5, 0.5)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # old enough for any onnxruntime 1.18+
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def image_model(
    path: Path,
    *,
    shape: list[int | str] | None = None,
    logits: bool = False,
    outputs: int = 1,
) -> Path:
    shape = shape or ["N", 3, "H", "W"]
    axes = list(range(1, len(shape)))
    nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=axes, keepdims=0)]
    if not logits:
        nodes.append(helper.make_node("Sigmoid", ["mean"], ["prob"]))
    out = "mean" if logits else "prob"
    if outputs > 1:  # a classifier with several classes, which a detector is not
        nodes.append(helper.make_node("Unsqueeze", [out, "axis"], ["col"]))
        nodes.append(helper.make_node("Tile", ["col", "reps"], ["many"]))
        out = "many"
    initializers = [
        helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
        helper.make_tensor("reps", TensorProto.INT64, [2], [1, outputs]),
    ]
    out_shape: list[int | str] = ["N", outputs] if outputs > 1 else ["N"]
    graph = helper.make_graph(
        nodes,
        "mean_pixels",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)],
        initializer=initializers if outputs > 1 else [],
    )
    return _save(graph, path)


def audio_model(path: Path, samples: int = 16_000) -> Path:
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["audio", "audio"], ["power"]),
            helper.make_node("ReduceMean", ["power"], ["mean"], axes=[1], keepdims=1),
            helper.make_node("Sigmoid", ["mean"], ["prob"]),
        ],
        "mean_power",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["N", samples])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 1])],
    )
    return _save(graph, path)


def _sample(path: Path, kind: MediaKind) -> MediaSample:
    return MediaSample(path, kind, "application/octet-stream", path.stat().st_size, "0" * 64)


def _picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def test_image_model_scores_pictures(tmp_path: Path) -> None:
    model = image_model(tmp_path / "m.onnx")
    detector = OnnxDetector(model, [MediaKind.IMAGE], 16, "mean", mean=HALF, std=HALF)
    white = detector.analyze(
        _sample(_picture(tmp_path / "w.png", (255, 255, 255)), MediaKind.IMAGE)
    )
    black = detector.analyze(_sample(_picture(tmp_path / "b.jpg", (0, 0, 0)), MediaKind.IMAGE))
    [finding] = white.findings
    assert white.analyzer == finding.signal == "learned:mean"
    assert finding.score == pytest.approx(round(_sigmoid(1.0), 4))
    assert finding.weight == 0.5
    assert finding.summary == (
        "The learned detector 'mean' rates the picture 73% likely to be synthetic or manipulated."
    )
    assert finding.details["model"] == "m.onnx" and len(finding.details["model_sha256"]) == 16
    assert black.findings[0].score == pytest.approx(round(_sigmoid(-1.0), 4))


def test_channels_last_fixed_size_and_logit_models(tmp_path: Path) -> None:
    model = image_model(tmp_path / "m.onnx", shape=[1, 24, 24, 3], logits=True)
    detector = OnnxDetector(
        model, [MediaKind.IMAGE], 24, "nhwc", mean=HALF, std=HALF, output="logit", weight=0.8
    )
    report = detector.analyze(
        _sample(_picture(tmp_path / "w.png", (255, 255, 255)), MediaKind.IMAGE)
    )
    [finding] = report.findings
    assert finding.score == pytest.approx(round(_sigmoid(1.0), 4))
    assert finding.weight == 0.8


def test_video_frames_are_averaged(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 255, np.uint8), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    model = image_model(tmp_path / "m.onnx")
    detector = OnnxDetector(
        model, [MediaKind.IMAGE, MediaKind.VIDEO], 16, "mean", mean=HALF, std=HALF, frames=4
    )
    [finding] = detector.analyze(_sample(path, MediaKind.VIDEO)).findings
    assert len(finding.details["frame_scores"]) == 4
    assert finding.score == pytest.approx(_sigmoid(1.0), abs=0.01)  # lossy white is ~255
    assert "the video's frames" in finding.summary


def test_audio_model_scores_windows(tmp_path: Path) -> None:
    t = np.arange(44_100 * 2) / 44_100
    path = tmp_path / "tone.wav"
    soundfile.write(path, 0.999 * np.sin(2 * np.pi * 440 * t), 44_100, subtype="FLOAT")
    detector = OnnxDetector(audio_model(tmp_path / "a.onnx"), [MediaKind.AUDIO], 16_000, "power")
    [finding] = detector.analyze(_sample(path, MediaKind.AUDIO)).findings
    assert finding.details["window_scores"] == [pytest.approx(0.6225, abs=0.002)] * 2
    quiet = tmp_path / "quiet.wav"
    soundfile.write(quiet, np.zeros(8_000), 16_000)
    [silent] = detector.analyze(_sample(quiet, MediaKind.AUDIO)).findings
    assert silent.score == 0.5  # one zero-padded window


def test_accepts_only_configured_kinds_and_names_its_reports(tmp_path: Path) -> None:
    model = image_model(tmp_path / "m.onnx")
    [detector] = load_detectors(
        [DetectorSpec("cnn", model, frozenset({MediaKind.IMAGE}), 16, mean=HALF, std=HALF)]
    )
    picture = _sample(_picture(tmp_path / "w.png", (255, 255, 255)), MediaKind.IMAGE)
    assert detector.accepts(picture)
    assert not detector.accepts(_sample(picture.path, MediaKind.VIDEO))
    report = asyncio.run(detector.run(_sample(tmp_path / "m.onnx", MediaKind.IMAGE)))
    assert report.analyzer == "learned:cnn"
    assert report.error and "cannot read the file" in report.error


@pytest.mark.parametrize(
    ("build", "kinds", "size", "message"),
    [
        (lambda p: p.write_bytes(b"not a model"), [MediaKind.IMAGE], 16, "not a usable ONNX"),
        (lambda p: p, [MediaKind.IMAGE], 16, "cannot read"),  # missing file
        (
            lambda p: image_model(p, shape=["N", 3, 64, 64]),
            [MediaKind.IMAGE],
            32,
            "expects 64x64 pictures, the settings say 32x32",
        ),
        (
            lambda p: image_model(p, shape=["N", 1, "H", "W"]),
            [MediaKind.IMAGE],
            16,
            "3 colour channels",
        ),
        (
            lambda p: image_model(p, shape=["N", 3, 16]),
            [MediaKind.IMAGE],
            16,
            "neither an image batch",
        ),
        (lambda p: image_model(p, outputs=10), [MediaKind.IMAGE], 16, "one probability per input"),
        (lambda p: image_model(p), [MediaKind.AUDIO], 16, "only judge images and video"),
        (lambda p: audio_model(p, 8000), [MediaKind.AUDIO], 16_000, "expects 8000 samples"),
    ],
)
def test_bad_models_fail_at_load_with_the_reason(
    tmp_path: Path, build: object, kinds: list[MediaKind], size: int, message: str
) -> None:
    path = tmp_path / "bad.onnx"
    assert callable(build)
    build(path)
    with pytest.raises(ModelError, match=message):
        OnnxDetector(path, kinds, size, "bad")


def test_a_model_that_fails_to_run_fails_at_load(tmp_path: Path) -> None:
    # Declares [N, 3, H, W] but reshapes to a fixed size that only 8x8 inputs satisfy.
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["image", "shape"], ["flat"]),
            helper.make_node("ReduceMean", ["flat"], ["prob"], axes=[1], keepdims=0),
        ],
        "brittle",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N"])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [2], [1, 192])],
    )
    path = _save(graph, tmp_path / "brittle.onnx")
    with pytest.raises(ModelError, match="fails on a blank input"):
        OnnxDetector(path, [MediaKind.IMAGE], 16, "brittle")
    assert OnnxDetector(path, [MediaKind.IMAGE], 8, "brittle").size == (8, 8)
