"""fuse() on constructed findings, with the exact outcomes the documented rules give."""

from __future__ import annotations

import math

import pytest

from veriscan.analyzers.base import Decision, Finding, MediaKind, Report
from veriscan.analyzers.fusion import LIMITS, Fused, Thresholds, Verdict, fuse

NO_FACE = "No face was found, so face checks did not apply."
NO_C2PA = "No Content Credentials (C2PA). This proves nothing."
IMAGE_LIMITS = f"What this analysis cannot see: {LIMITS[MediaKind.IMAGE]}."


def _pool(*pairs: tuple[float, float]) -> float:
    """The documented pool, written out independently: sigmoid of weighted mean logit."""
    total = sum(w for _, w in pairs)
    mean = sum(w * math.log(s / (1 - s)) for s, w in pairs) / total
    return 1 / (1 + math.exp(-mean))


def _odds(p: float) -> float:
    return p / (1 - p)


def _p(odds: float) -> float:
    return odds / (1 + odds)


def forensic(ela: float, gan: float, noise: float) -> Report:
    return Report(
        "image_forensics",
        findings=[
            Finding("ela", ela, 0.5, "Error levels are uneven across the picture"),
            Finding("gan_fingerprint", gan, 0.5, "The spectrum shows a periodic upsampling grid"),
            Finding("noise_residual", noise, 0.4, "Sensor noise is consistent"),
            Finding("faces", None, 0.0, NO_FACE),
        ],
    )


def detector(score: float, signal: str = "image_detector", **details: object) -> Report:
    summary = f"the learned detector rates it {score:.0%} likely generated"
    finding = Finding(signal, score, 1.0, summary, dict(details), calibrated=True)
    return Report(signal, findings=[finding])


def provenance(*findings: Finding) -> Report:
    return Report("provenance", findings=list(findings) or [Finding("c2pa", None, 0.0, NO_C2PA)])


def c2pa(odds: float, summary: str, decision: Decision | None = None) -> Finding:
    return Finding("c2pa", round(_p(odds), 3), 0.0, summary, decision=decision, odds=odds)


def test_without_a_calibrated_detector_the_forensic_signals_pool_and_confidence_is_capped() -> None:
    fused = fuse(MediaKind.IMAGE, [forensic(ela=0.3, gan=0.9, noise=0.4), provenance()])
    pooled = _pool((0.3, 0.5), (0.9, 0.5), (0.4, 0.4))
    assert fused.risk_score == round(pooled * 100) == 59
    assert fused.verdict is Verdict.SUSPICIOUS
    assert fused.confidence == 50  # would be 59: the pool is not calibrated
    assert fused.basis == "uncalibrated"
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
    assert fused.explanation == (
        "This image may be synthetic or manipulated, but not surely enough to call it a "
        "deepfake (risk 59/100). "
        "Confidence 50/100 at most: no calibrated detector could judge this file, and the "
        "forensic signals that did are not calibrated. Treat this as an indication, not a "
        "finding. "
        "Evidence of manipulation: The spectrum shows a periodic upsampling grid (score 90). "
        "Evidence of authenticity: Error levels are uneven across the picture (score 30); "
        "Sensor noise is consistent (score 40). "
        f"Not checked or not conclusive: {NO_FACE} {NO_C2PA} {IMAGE_LIMITS}"
    )


def test_a_calibrated_detector_decides_and_forensic_signals_are_only_shown() -> None:
    reports = [forensic(ela=0.1, gan=0.05, noise=0.1), detector(0.91), provenance()]
    fused = fuse(MediaKind.IMAGE, reports)
    assert (fused.verdict, fused.risk_score, fused.confidence) == (Verdict.DEEPFAKE, 91, 91)
    assert fused.basis == "calibrated"
    assert fused.gan_fingerprint == 91  # the learned detector of generator traces
    assert fused.signals["gan_fingerprint"] == 5  # the spectral one, still reported
    assert fused.explanation == (
        "This image is very likely synthetic or manipulated (risk 91/100). "
        "Confidence 91/100: the probability that this verdict is right, as the detectors "
        "were measured on media they had not seen. "
        "Detectors: the learned detector rates it 91% likely generated. "
        "Forensic signals, shown but not used for the verdict because they were near chance "
        "on held-out media: The spectrum shows a periodic upsampling grid (score 5); "
        "Error levels are uneven across the picture (score 10); "
        "Sensor noise is consistent (score 10). "
        f"Not checked or not conclusive: {NO_FACE} {NO_C2PA} {IMAGE_LIMITS}"
    )


def test_authentic_above_80_needs_positive_evidence() -> None:
    plain = fuse(MediaKind.IMAGE, [detector(0.04), provenance()])
    assert (plain.verdict, plain.risk_score, plain.confidence) == (Verdict.AUTHENTIC, 4, 80)
    assert "at most 80 because nothing positively attests the file" in plain.explanation

    weak = c2pa(0.7, "Intact Content Credentials, but the signer is on no trust list.")
    signed = fuse(MediaKind.IMAGE, [detector(0.04), provenance(weak)])
    expected = _p(_odds(0.04) * 0.7)
    assert signed.risk_score == round(expected * 100) == 3
    assert signed.confidence == 80  # weak evidence is not an attestation
    assert "Provenance: Intact Content Credentials, but the signer" in signed.explanation

    captured = c2pa(0.05, "A trusted camera signed this capture.", Decision.CAPTURED)
    attested = fuse(MediaKind.IMAGE, [detector(0.04), provenance(captured)])
    p = _p(_odds(0.04) * 0.05)
    assert attested.verdict is Verdict.AUTHENTIC
    assert attested.confidence == round((1 - max(p, 0.01)) * 100) == 99
    assert "at most 80" not in attested.explanation


def test_a_tampered_manifest_means_changed_after_signing_not_a_deepfake() -> None:
    tampered = c2pa(
        3.0,
        "The Content Credentials no longer match the file (assertion.dataHash.mismatch).",
        Decision.MANIPULATED,
    )
    # The pixels look real: the manifest alone makes it SUSPICIOUS, at the threshold.
    fused = fuse(MediaKind.IMAGE, [detector(0.05), provenance(tampered)])
    assert round(_p(_odds(0.05) * 3) * 100) == 14
    assert (fused.verdict, fused.risk_score, fused.confidence) == (Verdict.SUSPICIOUS, 40, 40)
    assert fused.decisive == "c2pa"
    assert fused.explanation.startswith(
        "This image may be synthetic or manipulated, but not surely enough to call it a "
        "deepfake (risk 40/100). The Content Credentials no longer match the file "
        "(assertion.dataHash.mismatch). That alone does not make it a deepfake: a re-saved or "
        "re-signed file fails the same check."
    )
    # The pixels look generated: the manifest's evidence adds to the detector's.
    strong = fuse(MediaKind.IMAGE, [detector(0.6), provenance(tampered)])
    assert strong.risk_score == round(_p(_odds(0.6) * 3) * 100) == 82
    assert (strong.verdict, strong.decisive) == (Verdict.DEEPFAKE, None)
    # Nothing could judge the content: SUSPICIOUS at even odds.
    alone = fuse(MediaKind.VIDEO, [provenance(tampered)])
    assert (alone.verdict, alone.risk_score, alone.confidence) == (Verdict.SUSPICIOUS, 50, 50)
    assert alone.basis == "provenance"


def test_a_generation_declaration_decides_whatever_the_signals_say() -> None:
    declared = Finding(
        "ai_declaration",
        0.99,
        1.0,
        "The file declares itself AI-generated in its C2PA manifest (trainedAlgorithmicMedia).",
        decision=Decision.GENERATED,
    )
    fused = fuse(MediaKind.IMAGE, [forensic(0.2, 0.1, 0.3), detector(0.1), provenance(declared)])
    assert (fused.verdict, fused.risk_score, fused.confidence) == (Verdict.DEEPFAKE, 95, 95)
    assert fused.decisive == "ai_declaration"
    assert fused.gan_fingerprint == 10  # the detector is still reported as measured
    assert fused.explanation.startswith(
        "This image is very likely synthetic or manipulated (risk 95/100). "
        "Decisive: The file declares itself AI-generated in its C2PA manifest "
        "(trainedAlgorithmicMedia). "
        "The file's own record settles it, so confidence is 95/100."
    )


def test_uncalibrated_signals_never_outweigh_intact_credentials_into_deepfake() -> None:
    weak = c2pa(0.7, "Intact Content Credentials, but the signer is on no trust list.")
    fused = fuse(MediaKind.IMAGE, [forensic(0.95, 0.95, 0.95), provenance(weak)])
    assert round(_p(_odds(_pool((0.95, 1.4))) * 0.7) * 100) == 93
    assert (fused.verdict, fused.risk_score) == (Verdict.SUSPICIOUS, 69)
    # A calibrated detector may: generated pictures get signed too.
    signed_fake = fuse(MediaKind.IMAGE, [detector(0.95), provenance(weak)])
    assert signed_fake.verdict is Verdict.DEEPFAKE
    assert signed_fake.risk_score == round(_p(_odds(0.95) * 0.7) * 100) == 93


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
    fused = fuse(MediaKind.AUDIO, [detector(score, "speech_detector")], thresholds)
    assert fused.risk_score == round(score * 100)
    assert fused.audio_score == round(score * 100)
    assert fused.verdict is verdict
    right = score if verdict is not Verdict.AUTHENTIC else 1 - score
    assert fused.confidence == round(right * 100)


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


def test_weak_provenance_alone_makes_no_verdict() -> None:
    weak = c2pa(0.7, "Intact Content Credentials, but the signer is on no trust list.")
    fused = fuse(MediaKind.AUDIO, [provenance(weak)])
    assert (fused.verdict, fused.risk_score) == (None, None)


def test_video_scores_take_the_higher_of_frames_and_soundtrack() -> None:
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
            findings=[frames, Finding("temporal_consistency", 0.9, 0.6, "Faces flicker")],
        ),
        detector(0.3, "video_detector", frames_probability=0.2, faces_probability=0.3),
        detector(0.75, "speech_detector"),
    ]
    fused = fuse(MediaKind.VIDEO, reports)
    assert (fused.video_score, fused.audio_score) == (30, 75)
    assert fused.gan_fingerprint == 20  # the learned detector on whole frames
    assert fused.temporal_consistency == 90  # reported, not voting
    assert (fused.verdict, fused.risk_score, fused.confidence) == (Verdict.DEEPFAKE, 75, 75)

    silent = fuse(MediaKind.VIDEO, reports[:2])
    assert (silent.verdict, silent.risk_score, silent.confidence) == (Verdict.AUTHENTIC, 30, 70)
    heuristic_only = fuse(MediaKind.VIDEO, reports[:1])
    assert heuristic_only.gan_fingerprint == 70  # the frames' mean spectral fingerprint
    assert heuristic_only.risk_score == round(_pool((0.8, 0.6), (0.9, 0.6)) * 100) == 86


def _sigmoid_of(p: float, odds: float) -> float:
    log_odds = math.log(p / (1 - p)) + math.log(odds)
    return 1 / (1 + math.exp(-log_odds))


def _soundtrack(score: float, measured_auc: float | None) -> Report:
    summary = f"the learned speech detector rates the voice {score:.0%} likely to be synthetic"
    finding = Finding(
        "speech_detector", score, 1.0, summary, calibrated=True, measured_auc=measured_auc
    )
    return Report("speech_detector", findings=[finding])


def test_a_weak_soundtrack_detector_does_not_decide_a_video_judged_by_its_pictures() -> None:
    pictures = detector(0.3, "video_detector", frames_probability=0.2, faces_probability=0.3)
    # A soundtrack detector measured well enough (0.80) still counts as the higher one.
    strong = fuse(MediaKind.VIDEO, [pictures, _soundtrack(0.75, 0.80), provenance()])
    assert (strong.verdict, strong.risk_score, strong.confidence) == (Verdict.DEEPFAKE, 75, 75)

    # One under 0.75 is shown, with why, and the pictures decide.
    weak = fuse(MediaKind.VIDEO, [pictures, _soundtrack(0.75, 0.67), provenance()])
    assert (weak.verdict, weak.risk_score, weak.confidence) == (Verdict.AUTHENTIC, 30, 70)
    assert weak.audio_score == 75  # still the soundtrack's sub-score
    assert (
        "Shown but not used for the verdict, because the pictures were judged and this "
        "detector is weak (held-out AUC under 0.75; 0.50 is chance): the learned speech "
        "detector rates the voice 75% likely to be synthetic."
    ) in weak.explanation
    assert "Forensic signals" not in weak.explanation  # nor is it pooled with them
    assert fuse(MediaKind.VIDEO, [pictures, _soundtrack(0.75, None), provenance()]) == strong
    # At the bar exactly it is not weak; and only a soundtrack is set aside: a weak detector
    # of the pictures still votes (the rule is about a video's sound, not its pictures).
    at_bar = fuse(MediaKind.VIDEO, [pictures, _soundtrack(0.75, 0.75), provenance()])
    assert (at_bar.verdict, at_bar.risk_score) == (Verdict.DEEPFAKE, 75)
    weak_pictures = Report(
        "video_detector",
        findings=[Finding("video_detector", 0.6, 1.0, "faces", calibrated=True, measured_auc=0.6)],
    )
    voted = fuse(MediaKind.VIDEO, [weak_pictures, _soundtrack(0.2, 0.67), provenance()])
    assert (voted.verdict, voted.risk_score) == (Verdict.SUSPICIOUS, 60)
    # Content Credentials still weigh on what the pictures say, and only on that.
    signed = c2pa(0.7, "Intact Content Credentials, but the signer is on no trust list.")
    attested = fuse(MediaKind.VIDEO, [pictures, _soundtrack(0.75, 0.67), provenance(signed)])
    assert attested.risk_score == round(_sigmoid_of(0.3, 0.7) * 100) == 23

    # Alone on a recording it is all there is, and it decides; and a video whose pictures
    # nothing calibrated judged still pools its voice with the frame forensics.
    alone = fuse(MediaKind.AUDIO, [_soundtrack(0.75, 0.67), provenance()])
    assert (alone.verdict, alone.risk_score, alone.confidence) == (Verdict.DEEPFAKE, 75, 75)
    frames = Report(
        "video_forensics",
        findings=[Finding("video_frames", 0.8, 0.5, "The frames show upsampling traces")],
    )
    unseen = fuse(MediaKind.VIDEO, [frames, _soundtrack(0.1, 0.67), provenance()])
    assert (unseen.basis, unseen.risk_score) == ("uncalibrated", 27)


def test_fusion_is_deterministic_and_order_independent_in_its_numbers() -> None:
    reports = [forensic(0.35, 0.62, 0.7), detector(0.58), provenance()]
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


def test_a_video_whose_pictures_no_detector_judged_is_not_decided_by_its_voice() -> None:
    # The image model could not run; the soundtrack's detector says 10 %. A real voice says
    # nothing of a swapped face: its probability joins the frame forensics' pool, and the
    # confidence is that of an uncalibrated pool.
    frames = Report(
        "video_forensics",
        findings=[Finding("video_frames", 0.8, 0.5, "The frames show upsampling traces")],
    )
    fused = fuse(MediaKind.VIDEO, [frames, detector(0.1, "speech_detector"), provenance()])

    pooled = _pool((0.8, 0.5), (0.1, 1.0))
    assert fused.basis == "uncalibrated"
    assert fused.risk_score == round(pooled * 100) == 27
    assert fused.verdict is Verdict.AUTHENTIC
    assert fused.confidence == 50  # 73 from the pool, capped: nothing calibrated saw it all
    assert (fused.video_score, fused.audio_score) == (80, 10)

    with_pictures = fuse(
        MediaKind.VIDEO,
        [frames, detector(0.3, "video_detector"), detector(0.1, "speech_detector"), provenance()],
    )
    assert (with_pictures.basis, with_pictures.risk_score) == ("calibrated", 30)
