"""The analyzers a process runs, from its settings."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from veriscan.analyzers.registry import build_analyzers, thresholds
from veriscan.core.config import Settings


def tiny_model(path: Path) -> Path:
    # Mean of the pixels through a sigmoid: a real (if useless) ONNX image detector.
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0),
            helper.make_node("Sigmoid", ["m"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, analyzer_timeout_seconds=7)  # type: ignore[call-arg]
    analyzers = build_analyzers(settings)
    assert [a.name for a in analyzers] == [
        "metadata",
        "provenance",
        "image_forensics",
        "video_forensics",
        "audio",
        "image_detector",
        "video_detector",
        "speech_detector",
    ]
    assert {a.timeout for a in analyzers} == {7}
    assert (thresholds(settings).deepfake, thresholds(settings).suspicious) == (70, 40)


def test_a_learned_detector_from_the_environment(tmp_path: Path, monkeypatch: object) -> None:
    model = tiny_model(tmp_path / "tiny.onnx")
    spec = [{"name": "tiny", "path": str(model), "kinds": ["IMAGE"], "input_size": 8}]
    monkeypatch.setenv("VERISCAN_LEARNED_DETECTORS", json.dumps(spec))  # type: ignore[attr-defined]
    analyzers = build_analyzers(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    assert analyzers[-1].label == "learned:tiny"  # type: ignore[attr-defined]
