"""The analyzers a process runs, built from its settings (explicitly, in one place)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from veriscan.analyzers.audio import AudioAnalyzer
from veriscan.analyzers.base import Analyzer, MediaKind
from veriscan.analyzers.detectors import ImageDetector, VideoDetector
from veriscan.analyzers.fusion import Thresholds
from veriscan.analyzers.image import ImageForensicsAnalyzer
from veriscan.analyzers.learned import DetectorSpec, load_detectors
from veriscan.analyzers.metadata import MetadataAnalyzer
from veriscan.analyzers.provenance import ProvenanceAnalyzer
from veriscan.analyzers.speech import SpeechDetector
from veriscan.analyzers.video import VideoAnalyzer
from veriscan.core.config import Settings


def detector_specs(items: list[dict[str, Any]]) -> list[DetectorSpec]:
    specs = []
    for item in items:
        size = item.get("input_size", 224)
        specs.append(
            DetectorSpec(
                name=str(item["name"]),
                path=Path(item["path"]),
                kinds=frozenset(MediaKind(kind) for kind in item.get("kinds", ["IMAGE"])),
                input_size=tuple(size) if isinstance(size, list) else int(size),
                output=item.get("output", "probability"),
                weight=float(item.get("weight", 0.5)),
            )
        )
    return specs


def build_analyzers(settings: Settings) -> list[Analyzer]:
    anchors = settings.c2pa_trust_anchors.read_text() if settings.c2pa_trust_anchors else None
    analyzers: list[Analyzer] = [
        MetadataAnalyzer(),
        ProvenanceAnalyzer(trust_anchors_pem=anchors),
        ImageForensicsAnalyzer(),
        VideoAnalyzer(),
        AudioAnalyzer(),
        ImageDetector(settings.model_dir),
        VideoDetector(settings.model_dir),
        SpeechDetector(),
        *load_detectors(detector_specs(settings.learned_detectors)),
    ]
    for analyzer in analyzers:
        analyzer.timeout = settings.analyzer_timeout_seconds
    return analyzers


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        deepfake=settings.deepfake_threshold, suspicious=settings.suspicious_threshold
    )
