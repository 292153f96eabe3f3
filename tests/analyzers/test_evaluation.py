"""The evaluation over a small labelled folder made here, and the pipeline under it.

The fake analyzer reads its answer from the file's bytes ("score=0.9"), as a real one
reads pixels, so the expected accuracy, AUC and confusion matrix can be worked out by hand.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar

import av
import numpy as np
import pytest
import soundfile

from veriscan.analyzers.audio import AudioAnalyzer
from veriscan.analyzers.base import Analyzer, Finding, MediaKind, MediaSample, Report
from veriscan.analyzers.evaluation import (
    LabelsError,
    evaluate,
    read_labels,
    render_table,
    roc_auc,
)
from veriscan.analyzers.fusion import Thresholds, Verdict
from veriscan.analyzers.pipeline import NO_AUDIO_TRACK, analyze_media


class ContentAnalyzer(Analyzer):
    name: ClassVar[str] = "fake_forensics"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset(MediaKind)

    def __init__(self) -> None:
        self.seen: list[str] = []

    def analyze(self, sample: MediaSample) -> Report:
        self.seen.append(sample.path.name)
        value = sample.path.read_text().split("=", 1)[1].strip()
        score = None if value == "none" else float(value)
        return Report(self.name, findings=[Finding("fake", score, 0.5, f"Fake reading {value}")])


class SleepyAnalyzer(Analyzer):
    kinds: ClassVar[frozenset[MediaKind]] = frozenset(MediaKind)

    def __init__(self, name: str, delay: float, metadata: dict[str, object]) -> None:
        self.label, self.delay, self.metadata = name, delay, metadata

    def analyze(self, sample: MediaSample) -> Report:
        time.sleep(self.delay)
        return Report(self.label, metadata=dict(self.metadata))


def sleepy(name: str, delay: float, **metadata: object) -> SleepyAnalyzer:
    # Each fake needs its own class-level name, as real analyzers have.
    cls = type(f"Sleepy_{name}", (SleepyAnalyzer,), {"name": name})
    return cls(name, delay, metadata)  # type: ignore[no-any-return]


class RecordingAudio(Analyzer):
    name: ClassVar[str] = "audio"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.AUDIO})

    def __init__(self) -> None:
        self.samples: list[tuple[MediaSample, int]] = []

    def analyze(self, sample: MediaSample) -> Report:
        self.samples.append((sample, soundfile.info(str(sample.path)).samplerate))
        finding = Finding("audio_synthetic", 0.8, 0.5, "The voice shows traces of synthesis")
        return Report(self.name, findings=[finding], metadata={"codec": "pcm_s16le"})


FILES = {
    "image/real/cam_1.png": "0.1",
    "image/real/cam_2.png": "0.3",
    "image/real/cam_3.png": "0.45",
    "image/generated/gan_1.png": "0.9",
    "image/generated/gan_2.png": "0.5",
    "image/manipulated/swap_1.png": "0.2",
    "audio/real/voice_1.wav": "0.2",
    "audio/generated/tts_1.wav": "0.2",
    "audio/generated/tts_2.wav": "none",
}


@pytest.fixture
def labelled(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "set"
    rows = ["file,modality,label,generator_or_source,notes"]
    for name, value in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"score={value}\n")
        modality, label = name.split("/")[:2]
        rows.append(f'{name},{modality},{label},test,"made here, {value}"')
    rows.append("audio/real/missing.wav,audio,real,test,")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return root, labels


def test_metrics_per_modality_and_overall(labelled: tuple[Path, Path]) -> None:
    root, labels = labelled
    fake = ContentAnalyzer()
    result = evaluate(root, labels, analyzers=[fake], thresholds=Thresholds(70, 40))

    image = result.metrics["image"]
    assert (image.files, image.positives, image.negatives) == (6, 3, 3)
    assert image.accuracy == pytest.approx(4 / 6)
    assert image.auc == pytest.approx(7 / 9)
    c = image.confusion
    assert (c.true_positive, c.false_positive, c.true_negative, c.false_negative) == (2, 1, 2, 1)
    assert c.by_label == {
        "real": {"AUTHENTIC": 2, "SUSPICIOUS": 1},
        "generated": {"DEEPFAKE": 1, "SUSPICIOUS": 1},
        "manipulated": {"AUTHENTIC": 1},
    }

    audio = result.metrics["audio"]
    assert (audio.files, audio.unscored, audio.errors) == (3, 1, 1)
    assert audio.accuracy == pytest.approx(1 / 3)
    assert audio.auc == 0.5  # one tie
    assert audio.confusion.by_label == {
        "real": {"AUTHENTIC": 1},
        "generated": {"AUTHENTIC": 1, "none": 1},
    }

    overall = result.metrics["all"]
    assert list(result.metrics) == ["audio", "image", "all"]
    assert (overall.files, overall.errors, overall.unscored) == (9, 1, 1)
    assert overall.accuracy == pytest.approx(5 / 9)
    assert overall.auc == pytest.approx(11 / 16)

    by_file = {r.file: r for r in result.files}
    assert by_file["image/generated/gan_1.png"].verdict == Verdict.DEEPFAKE
    assert by_file["image/generated/gan_1.png"].risk_score == 90
    assert by_file["audio/generated/tts_2.wav"].verdict is None
    assert by_file["audio/real/missing.wav"].error == "not found"
    # The analyzers never saw a name that carries the label.
    assert set(fake.seen) == {"sample.png", "sample.wav"}


def test_modalities_can_be_chosen(labelled: tuple[Path, Path]) -> None:
    root, labels = labelled
    result = evaluate(root, labels, analyzers=[ContentAnalyzer()], modalities=["audio"])
    assert list(result.metrics) == ["audio", "all"]
    assert len(result.files) == 4


def test_table_rendering(labelled: tuple[Path, Path]) -> None:
    root, labels = labelled
    text = render_table(evaluate(root, labels, analyzers=[ContentAnalyzer()]))
    lines = text.splitlines()
    assert lines[0] == "Detection = DEEPFAKE or SUSPICIOUS (risk >= 40; DEEPFAKE >= 70)."
    assert lines[2].split() == [
        "modality", "files", "pos", "neg", "accuracy", "AUC",
        "TP", "FP", "TN", "FN", "no", "score", "errors",
    ]  # fmt: skip
    assert lines[3].split() == [
        "audio",
        "3",
        "2",
        "1",
        "0.333",
        "0.500",
        "0",
        "0",
        "1",
        "2",
        "1",
        "1",
    ]
    assert lines[4].split() == [
        "image",
        "6",
        "3",
        "3",
        "0.667",
        "0.778",
        "2",
        "1",
        "2",
        "1",
        "0",
        "0",
    ]
    assert lines[5].split() == [
        "all",
        "9",
        "5",
        "4",
        "0.556",
        "0.688",
        "2",
        "1",
        "3",
        "3",
        "1",
        "1",
    ]
    assert [line.split() for line in lines[8:11]] == [
        ["audio", "0", "0"],
        ["image", "0", "0"],
        ["all", "0", "0"],
    ]
    # Reliability: the fake's findings are forensic signals, not a calibrated detector,
    # so every confidence is capped at 50 (cam_3, SUSPICIOUS at risk 45, has 45). Of the
    # five images at 50, all but the manipulated one called AUTHENTIC are right.
    assert [line.split() for line in lines[14:19]] == [
        ["audio", "50-60", "2", "50.0", "0.500"],
        ["image", "0-50", "1", "45.0", "0.000"],
        ["image", "50-60", "5", "50.0", "0.800"],
        ["all", "0-50", "1", "45.0", "0.000"],
        ["all", "50-60", "7", "50.0", "0.714"],
    ]
    assert lines[21].split() == ["real", "0", "1", "3", "0"]
    assert lines[-2].split() == ["audio/generated/tts_2.wav", "generated", "none", "-", "0"]
    assert lines[-1].split() == [
        "audio/real/missing.wav",
        "real",
        "error",
        "-",
        "-",
        "not",
        "found",
    ]


def test_labels_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("file,label\na.png,real\n")
    with pytest.raises(LabelsError, match="lacks the column"):
        read_labels(bad)
    bad.write_text("file,modality,label\na.png,image,fake\n")
    with pytest.raises(LabelsError, match="line 2: unknown label 'fake'"):
        read_labels(bad)


def test_rank_auc() -> None:
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5], [True, False, False]) == 0.5
    assert roc_auc([0.3, 0.7, 0.5, 0.5], [False, True, True, False]) == 0.875
    assert roc_auc([0.3, 0.7], [True, True]) is None


# The pipeline under the evaluation.


def _sample(path: Path, kind: MediaKind) -> MediaSample:
    return MediaSample(path, kind, "application/octet-stream", path.stat().st_size, "0" * 64)


def test_pipeline_runs_analyzers_side_by_side_and_reports_stages(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_text("score=0.9")
    analyzers = [
        sleepy("provenance", 0.3, codec="from provenance"),
        sleepy("image_forensics", 0.5),
        sleepy("metadata", 0.1, codec="png", resolution="1x1"),
        ContentAnalyzer(),
    ]
    seen: list[tuple[str, int]] = []

    async def progress(stage: str, percent: int) -> None:
        seen.append((stage, percent))

    started = time.monotonic()
    analysis = asyncio.run(
        analyze_media(_sample(path, MediaKind.IMAGE), analyzers, progress=progress)
    )
    assert time.monotonic() - started < 0.85  # not 0.9 s one after the other
    assert seen == [
        ("fake-forensics", 26),
        ("metadata", 47),
        ("provenance", 68),
        ("image-forensics", 90),
        ("fusion", 95),
    ]
    assert [r.analyzer for r in analysis.reports] == [
        "provenance",
        "image_forensics",
        "metadata",
        "fake_forensics",
    ]
    assert analysis.metadata == {"codec": "png", "resolution": "1x1"}  # facts: metadata's
    assert analysis.fused.risk_score == 90


def _video(path: Path, *, with_audio: bool) -> Path:
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=44_100, layout="mono") if with_audio else None
        for index in range(20):
            pixels = np.full((48, 64, 3), index * 10, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, "rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            t = np.arange(44_100 * 2) / 44_100
            tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
            for start in range(0, tone.size, 1024):
                chunk = tone[start : start + 1024]
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 44_100, start
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    return path


def test_a_videos_soundtrack_goes_to_the_audio_analyzer(tmp_path: Path) -> None:
    listener = RecordingAudio()
    seen: list[str] = []

    async def progress(stage: str, percent: int) -> None:
        seen.append(stage)

    sample = _sample(_video(tmp_path / "v.mp4", with_audio=True), MediaKind.VIDEO)
    analysis = asyncio.run(analyze_media(sample, [], soundtrack=[listener], progress=progress))
    [(track, rate)] = listener.samples
    assert (track.kind, track.mime_type, rate) == (MediaKind.AUDIO, "audio/wav", 16_000)
    assert not track.path.exists()  # the temporary WAV is gone
    assert seen == ["audio", "fusion"]
    assert analysis.fused.audio_score == 80
    assert analysis.metadata == {}  # facts about our WAV are not the video's


def test_a_silent_video_says_so_and_the_default_audio_analyzer_is_used(tmp_path: Path) -> None:
    sample = _sample(_video(tmp_path / "v.mp4", with_audio=False), MediaKind.VIDEO)
    analysis = asyncio.run(analyze_media(sample, [AudioAnalyzer()]))
    [report] = analysis.reports
    assert report.findings[0].summary == NO_AUDIO_TRACK
    assert analysis.fused.audio_score is None
    assert NO_AUDIO_TRACK in analysis.fused.explanation

    with_tone = _sample(_video(tmp_path / "t.mp4", with_audio=True), MediaKind.VIDEO)
    [tone] = asyncio.run(analyze_media(with_tone, [AudioAnalyzer()])).reports
    assert tone.findings[0].summary == "The audio sounds like music or steady tones, not speech."


def test_an_audio_sample_runs_the_given_audio_analyzer_once(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    soundfile.write(path, np.zeros(1600), 16_000)
    listener = RecordingAudio()
    analysis = asyncio.run(
        analyze_media(_sample(path, MediaKind.AUDIO), [listener], soundtrack=[listener])
    )
    assert len(listener.samples) == 1
    assert analysis.fused.audio_score == 80
    assert analysis.metadata == {"codec": "pcm_s16le"}


def test_a_failing_progress_callback_stops_the_analysis_with_its_own_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.png"
    path.write_text("score=0.9")

    async def progress(stage: str, percent: int) -> None:
        raise RuntimeError("the scan was taken over")

    with pytest.raises(RuntimeError, match="taken over"):
        asyncio.run(
            analyze_media(_sample(path, MediaKind.IMAGE), [ContentAnalyzer()], progress=progress)
        )
    nothing = asyncio.run(analyze_media(_sample(path, MediaKind.IMAGE), []))
    assert (nothing.fused.verdict, nothing.reports) == (None, [])
