"""fuse() on constructed findings, with the exact outcomes the documented rules give."""

from __future__ import annotations

import math

import pytest

from veriscan.analyzers.base import Decision, Finding, MediaKind, Report
from veriscan.analyzers.fusion import Fused, Thresholds, Verdict, fuse

NO_FACE = "No face was found, so face checks did not apply."


def _pool(*pairs: tuple[float, float]) -> float:
    """The documented pool, written out independently: sigmoid of weighted mean logit."""
    total = sum(w for _, w in pairs)
    mean = sum(w * math.log(s / (1 - s)) for s, w in pairs) / total
    return 1 / (1 + math.exp(-mean))


def image_reports(ela: float, gan: float, noise: float) -> list[Report]:
    return [
        Report("metadata", metadata={"resolution": "640x480"}),
        Report(
            "image_forensics",
            findings=[
                Finding("ela", ela, 0.5, "Error levels are uneven across the picture"),
                Finding(
                    "gan_fingerprint", gan, 0.5, "The spectrum shows a periodic upsampling grid"
                ),
                Finding("noise_residual", noise, 0.4, "Sensor noise is consistent"),
                Finding("faces", None, 0.0, NO_FACE),
            ],
        ),
        Report(
            "provenance",
            findings=[
                Finding("c2pa", None, 0.0, "No Content Credentials (C2PA). This proves nothing."),
            ],
        ),
    ]


def test_signals_pool_in_log_odds_with_exact_scores() -> None:
    fused = fuse(MediaKind.IMAGE, image_reports(ela=0.3, gan=0.9, noise=0.4))
    pooled = _pool((0.3, 0.5), (0.9, 0.5), (0.4, 0.4))
    assert fused.risk_score == round(pooled * 100) == 59
    assert fused.verdict is Verdict.SUSPICIOUS
    # coverage 1.4/1.5; agreement 0.2 / (0.1 + 0.2 + 0.04); margin |p - .5| * 2
    agreement = 0.2 / 0.34
    expected = math.sqrt(1.4 / 1.5) * (agreement + abs(pooled - 0.5) * 2) / 2
    assert fused.confidence == round(expected * 100) == 37
    assert fused.gan_fingerprint == 90
    assert (fused.video_score, fused.audio_score, fused.temporal_consistency) == (None,) * 3
    assert fused.decisive is None
    assert fused.signals == {
        "ela": 30,
        "gan_fingerprint": 90,
        "noise_residual": 40,
        "faces": None,
        "c2pa": None,
    }


def test_a_strong_signal_is_not_drowned_by_lukewarm_ones() -> None:
    plain_average = (0.3 * 0.5 + 0.95 * 0.5 + 0.4 * 0.4) / 1.4
    fused = fuse(MediaKind.IMAGE, image_reports(ela=0.3, gan=0.95, noise=0.4))
    assert round(plain_average * 100) == 56
    assert fused.risk_score == round(_pool((0.3, 0.5), (0.95, 0.5), (0.4, 0.4)) * 100) == 65


def test_explanation_names_evidence_both_ways_certainty_and_what_was_not_checked() -> None:
    fused = fuse(MediaKind.IMAGE, image_reports(ela=0.3, gan=0.9, noise=0.4))
    assert fused.explanation == (
        "This image shows signs of manipulation, but not enough to call it a deepfake "
        "(risk 59/100). "
        "Evidence of manipulation: The spectrum shows a periodic upsampling grid (score 90). "
        "Evidence of authenticity: Error levels are uneven across the picture (score 30); "
        "Sensor noise is consistent (score 40). "
        "Confidence 37/100: the evidence is thin or mixed: treat this as an indication, "
        "not a finding. "
        f"Not checked or not conclusive: {NO_FACE} "
        "No Content Credentials (C2PA). This proves nothing."
    )


def test_a_generation_declaration_decides_whatever_the_signals_say() -> None:
    reports = image_reports(ela=0.2, gan=0.1, noise=0.3)
    reports[2].findings.append(
        Finding(
            "ai_declaration",
            0.99,
            1.0,
            "The file declares itself AI-generated in its C2PA manifest (trainedAlgorithmicMedia).",
            decision=Decision.GENERATED,
        )
    )
    fused = fuse(MediaKind.IMAGE, reports)
    assert fused.verdict is Verdict.DEEPFAKE
    assert fused.risk_score == 95
    assert fused.confidence == 95
    assert fused.decisive == "ai_declaration"
    assert fused.gan_fingerprint == 10  # the signal is still reported as measured
    assert fused.explanation.startswith(
        "This image is very likely synthetic or manipulated (risk 95/100). "
        "Decisive: The file declares itself AI-generated in its C2PA manifest "
        "(trainedAlgorithmicMedia). "
        "The signal analysis alone found no strong trace, which does not outweigh that."
    )
    assert "The file's own record settles it, so confidence is 95/100." in fused.explanation


def test_a_tampered_manifest_decides_and_keeps_a_higher_pooled_risk() -> None:
    reports = image_reports(ela=0.99, gan=0.99, noise=0.99)
    reports[2].findings[0] = Finding(
        "c2pa",
        0.97,
        1.0,
        "The Content Credentials no longer match the file (assertion.dataHash.mismatch).",
        decision=Decision.MANIPULATED,
    )
    fused = fuse(MediaKind.IMAGE, reports)
    assert fused.verdict is Verdict.DEEPFAKE
    assert fused.decisive == "c2pa"
    assert fused.risk_score == 98  # every signal at the 0.98 clip
    assert fused.confidence >= 95
    assert "Decisive: The Content Credentials no longer match the file" in fused.explanation


@pytest.mark.parametrize(
    ("score", "thresholds", "verdict"),
    [
        (0.70, Thresholds(), Verdict.DEEPFAKE),
        (0.69, Thresholds(), Verdict.SUSPICIOUS),
        (0.40, Thresholds(), Verdict.SUSPICIOUS),
        (0.39, Thresholds(), Verdict.AUTHENTIC),
        (0.70, Thresholds(deepfake=80, suspicious=50), Verdict.SUSPICIOUS),
        (0.49, Thresholds(deepfake=80, suspicious=50), Verdict.AUTHENTIC),
        (0.80, Thresholds(deepfake=80, suspicious=50), Verdict.DEEPFAKE),
    ],
)
def test_thresholds(score: float, thresholds: Thresholds, verdict: Verdict) -> None:
    reports = [Report("audio", findings=[Finding("audio_synthetic", score, 0.5, "Voice cues")])]
    fused = fuse(MediaKind.AUDIO, reports, thresholds)
    assert fused.risk_score == round(score * 100)
    assert fused.audio_score == round(score * 100)
    assert fused.verdict is verdict


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="suspicious <= deepfake"):
        Thresholds(deepfake=40, suspicious=70)


def test_nothing_measurable_gives_no_verdict_and_says_why() -> None:
    reports = [
        Report("video_forensics", findings=[Finding("video_frames", None, 0.0, "No frames")]),
        Report("provenance", error="provenance took longer than 60 s"),
    ]
    fused = fuse(MediaKind.VIDEO, reports)
    assert (fused.verdict, fused.risk_score, fused.confidence) == (None, None, 0)
    assert fused.scan_fields() == {
        "result": None,
        "riskScore": None,
        "confidence": 0,
        "videoScore": None,
        "audioScore": None,
        "ganFingerprint": None,
        "temporalConsistency": None,
        "explanation": fused.explanation,
    }
    assert fused.explanation == (
        "Nothing in this video could be measured, so no verdict was reached. "
        "Not checked or not conclusive: No frames. "
        "The provenance analysis could not run: provenance took longer than 60 s."
    )


def test_video_sub_scores_and_a_missing_soundtrack() -> None:
    frames = Finding(
        "video_frames",
        0.8,
        0.6,
        "Sampled frames show image-level signs of manipulation",
        {"signals": {"gan_fingerprint": {"mean": 0.7, "max": 0.9}}},
    )
    reports = [
        Report(
            "video_forensics",
            findings=[
                frames,
                Finding("temporal_consistency", 0.9, 0.6, "Faces flicker between frames"),
            ],
        ),
        Report(
            "audio",
            findings=[
                Finding(
                    "audio_synthetic",
                    None,
                    0.0,
                    "The video has no audio track, so voice checks did not apply.",
                )
            ],
        ),
    ]
    fused = fuse(MediaKind.VIDEO, reports)
    assert fused.video_score == 80
    assert fused.temporal_consistency == 90
    assert fused.gan_fingerprint == 70  # from the frames, as no separate finding exists
    assert fused.audio_score is None
    assert fused.risk_score == round(_pool((0.8, 0.6), (0.9, 0.6)) * 100) == 86
    assert fused.verdict is Verdict.DEEPFAKE
    assert "The video has no audio track, so voice checks did not apply." in fused.explanation
    assert fused.scan_fields()["ganFingerprint"] == 70


def test_fusion_is_deterministic_and_order_independent_in_its_numbers() -> None:
    reports = image_reports(ela=0.35, gan=0.62, noise=0.7)
    first, again = fuse(MediaKind.IMAGE, reports), fuse(MediaKind.IMAGE, reports)
    backwards = fuse(MediaKind.IMAGE, list(reversed(reports)))
    assert first == again
    assert isinstance(first, Fused)
    numbers = ("risk_score", "confidence", "verdict", "gan_fingerprint")
    assert [getattr(first, n) for n in numbers] == [getattr(backwards, n) for n in numbers]


def test_weightless_or_unscored_findings_are_not_evidence() -> None:
    reports = [
        Report(
            "audio",
            findings=[
                Finding("audio_synthetic", 0.9, 0.5, "The voice shows traces of synthesis"),
                Finding("experimental", 0.0, 0.0, "An unweighted experiment"),
            ],
        )
    ]
    fused = fuse(MediaKind.AUDIO, reports)
    assert fused.risk_score == 90
    assert "experiment" not in fused.explanation
    assert fused.signals["experimental"] == 0
