"""From the analyzers' findings to a media scan's scores, verdict, confidence and explanation.

The rules, in order:

1. A declaration decides (`Decision.GENERATED`: an AI-generation declaration in Content
   Credentials or XMP, or a generator's own metadata): DEEPFAKE, risk and confidence at
   least `DECISIVE_RISK` / `DECISIVE_CONFIDENCE`. The rest is still reported.
2. Calibrated detectors (`Finding.calibrated`) give P(synthetic or manipulated), measured on
   held-out media. When several judged the file (a video's frames and its soundtrack), the
   highest counts: a file is manipulated when any of its tracks is.
3. Provenance of a stated strength (`Finding.odds`) multiplies those odds: intact Content
   Credentials are evidence of authenticity (weak when the signer is unknown), Content
   Credentials that no longer match the file are evidence of a change. They adjust a
   detector's probability; alone they do not make one up, with one exception: valid
   credentials from a capture device (`Decision.CAPTURED`) are positive evidence on their
   own, applied to even odds. A video whose pictures no calibrated detector judged is not
   judged by its soundtrack alone: the speech detector's probability then joins rule 4.
   A weak soundtrack detector (held-out AUC under `WEAK_DETECTOR_AUC`, `Finding.measured_auc`)
   does not take part in rule 2 for a video whose pictures a calibrated detector judged: it
   is reported with its figure and does not vote. The highest of several probabilities would
   let one that sits near its base rate for most voices make every video with a voice
   SUSPICIOUS. On a recording alone it is all there is, and it decides.
4. Uncalibrated forensic signals (error levels, spectrum, noise, flicker...) are reported
   beside the verdict but vote only when no calibrated detector could run on the file.
   Then they are pooled as a weighted mean of log-odds,
       p = sigmoid( sum(w_i * logit(s_i)) / sum(w_i) ),  s_i clipped to [0.02, 0.98],
   and the confidence is at most `UNCALIBRATED_CONFIDENCE`: nobody has measured what such
   a pool is worth.
5. Risk is round(100 p); the verdict compares it with the thresholds (>= deepfake:
   DEEPFAKE, >= suspicious: SUSPICIOUS, else AUTHENTIC). Content Credentials that no longer
   match (`Decision.MANIPULATED`) make the verdict at least SUSPICIOUS (risk and p at least
   the suspicious threshold), never DEEPFAKE by themselves: the file changed after signing,
   which a re-save does as well as a forgery.
   With no evidence at all there is no verdict (None): a number would be made up.
6. Confidence is the probability that the verdict is right: p for DEEPFAKE and SUSPICIOUS,
   1 - p for AUTHENTIC. An AUTHENTIC verdict's confidence is at most
   `UNATTESTED_AUTHENTIC_CONFIDENCE` unless something positively attests the file
   (`Decision.CAPTURED`): a detector that finds nothing cannot rule out a generator it has
   never seen.
7. Sub-scores, 0-100 suspicions or None when absent: videoScore <- "video_detector" (else
   the frame forensics "video_frames"), audioScore <- "speech_detector" (else
   "audio_synthetic"), ganFingerprint <- "image_detector" (the learned detector of
   generator traces; else the spectral "gan_fingerprint"; for a video, the learned
   detector's score of whole frames, else the frames' mean spectral fingerprint),
   temporalConsistency <- "temporal_consistency".
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from veriscan.analyzers.base import Decision, Finding, MediaKind, Report

DECISIVE_RISK = 95
DECISIVE_CONFIDENCE = 95
UNATTESTED_AUTHENTIC_CONFIDENCE = 80
UNCALIBRATED_CONFIDENCE = 50
SCORE_CLIP = 0.02  # no heuristic is ever 99.9 % sure; this bounds one signal's pull
PROBABILITY_CLIP = 0.01  # no probability is reported beyond [1 %, 99 %]
MAX_REASONS = 3  # forensic signals named on each side
SOUNDTRACK_SIGNALS = frozenset({"speech_detector"})  # calibrated, but of a video's sound only
WEAK_DETECTOR_AUC = 0.75  # a calibrated detector ranking held-out media below this is weak

# Sub-score -> the signals that feed it, best first.
SUB_SCORES = {
    "video_score": ("video_detector", "video_frames"),
    "audio_score": ("speech_detector", "audio_synthetic"),
    "gan_fingerprint": ("image_detector", "gan_fingerprint"),
    "temporal_consistency": ("temporal_consistency",),
}
_NOUNS = {MediaKind.IMAGE: "image", MediaKind.VIDEO: "video", MediaKind.AUDIO: "recording"}
LIMITS = {
    MediaKind.IMAGE: "generators unlike those the detector was shown; small, heavily "
    "recompressed pictures and computer renderings, on which it is much less reliable than "
    "its held-out figure says; and small local edits (a retouched face, a spliced object) "
    "in an otherwise real photo",
    MediaKind.VIDEO: "manipulations between the sampled frames, faces too small or turned "
    "away to be found, expression edits that keep the face's identity, and generators "
    "unlike those the detectors were shown",
    MediaKind.AUDIO: "voices from synthesis systems unlike those the detector was measured "
    "on (its probe was fitted on about twenty systems, most of them older text-to-speech, "
    "and AASIST-L on 2019-era ones; a weak detector, as its finding says), recording "
    "conditions unlike its training set's, which move its reading, and edits that splice "
    "real recordings together",
}


class Verdict(enum.StrEnum):
    DEEPFAKE = "DEEPFAKE"
    SUSPICIOUS = "SUSPICIOUS"
    AUTHENTIC = "AUTHENTIC"


@dataclass(frozen=True)
class Thresholds:
    """riskScore at or above which a scan is DEEPFAKE, or SUSPICIOUS."""

    deepfake: int = 70
    suspicious: int = 40

    def __post_init__(self) -> None:
        if not 0 < self.suspicious <= self.deepfake <= 100:
            raise ValueError("thresholds need 0 < suspicious <= deepfake <= 100")


@dataclass(frozen=True)
class Fused:
    verdict: Verdict | None  # None only when nothing in the file could be measured
    risk_score: int | None
    confidence: int
    video_score: int | None
    audio_score: int | None
    gan_fingerprint: int | None
    temporal_consistency: int | None
    explanation: str
    decisive: str | None = None  # the signal whose decision settled or bounded the verdict
    signals: dict[str, int | None] = field(default_factory=dict)  # every signal, 0-100
    basis: str | None = None  # "calibrated", "uncalibrated" or "provenance": what p came from

    def scan_fields(self) -> dict[str, Any]:
        """The deepfake document's field names and values."""
        return {
            "result": None if self.verdict is None else self.verdict.value,
            "riskScore": self.risk_score,
            "confidence": self.confidence,
            "videoScore": self.video_score,
            "audioScore": self.audio_score,
            "ganFingerprint": self.gan_fingerprint,
            "temporalConsistency": self.temporal_consistency,
            "explanation": self.explanation,
        }


def _percent(score: float) -> int:
    return max(0, min(100, round(score * 100)))


def _maybe_percent(score: float | None) -> int | None:
    return None if score is None else _percent(score)


def _logit(score: float, clip: float = SCORE_CLIP) -> float:
    clipped = min(1.0 - clip, max(clip, score))
    return math.log(clipped / (1.0 - clipped))


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, value))))


def _signal_score(findings: list[Finding], signal: str) -> float | None:
    """Weighted mean of one signal's measured scores (several reports may carry it)."""
    measured = [f for f in findings if f.signal == signal and f.score is not None]
    if not measured:
        return None
    total = sum(f.weight for f in measured)
    if total <= 0:
        return sum(f.score or 0.0 for f in measured) / len(measured)
    return sum((f.score or 0.0) * f.weight for f in measured) / total


def _first_score(findings: list[Finding], signals: tuple[str, ...]) -> float | None:
    for signal in signals:
        score = _signal_score(findings, signal)
        if score is not None:
            return score
    return None


def _video_gan_fingerprint(findings: list[Finding]) -> float | None:
    """A video's generator-trace score: the learned detector's on whole frames, else the
    spectral fingerprint as the frame forensics averaged it."""
    for finding in findings:
        if finding.signal == "video_detector" and finding.score is not None:
            value = finding.details.get("frames_probability")
            if isinstance(value, int | float) and 0.0 <= value <= 1.0:
                return float(value)
    for finding in findings:
        if finding.signal == "video_frames" and finding.score is not None:
            signals = finding.details.get("signals")
            measure = signals.get("gan_fingerprint") if isinstance(signals, dict) else None
            value = measure.get("mean") if isinstance(measure, dict) else None
            if isinstance(value, int | float) and 0.0 <= value <= 1.0:
                return float(value)
    return None


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _clause(text: str) -> str:
    return text.strip().rstrip(".")


@dataclass(frozen=True)
class _Evidence:
    detectors: list[Finding]  # calibrated, measured
    weak: list[Finding]  # calibrated, measured, but too weak to vote on this file (rule 3)
    forensic: list[Finding]  # uncalibrated, measured, weighted
    provenance: list[Finding]  # with odds
    generated: Finding | None
    manipulated: Finding | None
    captured: Finding | None


def is_weak(finding: Finding) -> bool:
    """A calibrated detector whose held-out AUC is recorded and under `WEAK_DETECTOR_AUC`."""
    auc = finding.measured_auc
    return auc is not None and auc < WEAK_DETECTOR_AUC


def _gather(kind: MediaKind, findings: list[Finding]) -> _Evidence:
    def decided(decision: Decision) -> Finding | None:
        return max(
            (f for f in findings if f.decision is decision), key=lambda f: f.weight, default=None
        )

    detectors = [f for f in findings if f.calibrated and f.score is not None]
    weak: list[Finding] = []
    if kind is MediaKind.VIDEO and all(f.signal in SOUNDTRACK_SIGNALS for f in detectors):
        # Nothing calibrated judged the pictures (the image model missing, no frame decoded):
        # a real voice says nothing of a swapped face, so the soundtrack's probability joins
        # the uncalibrated pool with the frame forensics instead of deciding alone.
        detectors = []
    elif kind is MediaKind.VIDEO:
        weak = [f for f in detectors if f.signal in SOUNDTRACK_SIGNALS and is_weak(f)]
        detectors = [f for f in detectors if f not in weak]
    forensic = [
        f
        for f in findings
        if f.score is not None
        and f.weight > 0
        and f.decision is None
        and (not f.calibrated or f not in detectors)
        and f not in weak
    ]
    return _Evidence(
        detectors=detectors,
        weak=weak,
        forensic=forensic,
        provenance=[f for f in findings if f.odds is not None and f.odds > 0],
        generated=decided(Decision.GENERATED),
        manipulated=decided(Decision.MANIPULATED),
        captured=decided(Decision.CAPTURED),
    )


def _probability(evidence: _Evidence) -> tuple[float | None, str | None]:
    """P(synthetic or manipulated) and what it rests on."""
    if evidence.detectors:
        p = max(f.score or 0.0 for f in evidence.detectors)
        basis = "calibrated"
        log_odds = _logit(p, PROBABILITY_CLIP)
    elif evidence.forensic:
        total = sum(f.weight for f in evidence.forensic)
        log_odds = sum(f.weight * _logit(f.score or 0.0) for f in evidence.forensic) / total
        basis = "uncalibrated"
    elif evidence.manipulated or evidence.captured:
        log_odds, basis = 0.0, "provenance"  # even odds on the content: nothing measured it
    else:
        return None, None
    if basis != "provenance":
        log_odds += sum(math.log(f.odds or 1.0) for f in evidence.provenance)
    else:
        log_odds += sum(
            math.log(f.odds or 1.0) for f in evidence.provenance if f.decision is Decision.CAPTURED
        )
    p = _sigmoid(log_odds)
    return min(1.0 - PROBABILITY_CLIP, max(PROBABILITY_CLIP, p)), basis


def fuse(kind: MediaKind, reports: Iterable[Report], thresholds: Thresholds | None = None) -> Fused:
    thresholds = thresholds or Thresholds()
    reports = list(reports)
    findings = [finding for report in reports for finding in report.findings]
    evidence = _gather(kind, findings)
    p, basis = _probability(evidence)

    risk = None if p is None else _percent(p)
    verdict: Verdict | None = None
    decisive: Finding | None = None
    if evidence.generated is not None:
        decisive, verdict = evidence.generated, Verdict.DEEPFAKE
        risk = max(risk or 0, DECISIVE_RISK)
    elif risk is not None:
        if risk >= thresholds.deepfake:
            verdict = Verdict.DEEPFAKE
        elif risk >= thresholds.suspicious:
            verdict = Verdict.SUSPICIOUS
        else:
            verdict = Verdict.AUTHENTIC
        if evidence.manipulated is not None and verdict is Verdict.AUTHENTIC:
            # Changed after signing: at least even-handed doubt, at the suspicious threshold.
            decisive, verdict = evidence.manipulated, Verdict.SUSPICIOUS
            risk = thresholds.suspicious
            p = max(p or 0.0, risk / 100)
        attested = any((f.odds or 1.0) < 1.0 for f in evidence.provenance)
        if basis == "uncalibrated" and attested and verdict is Verdict.DEEPFAKE:
            # Uncalibrated signals never outweigh intact Content Credentials into DEEPFAKE.
            verdict = Verdict.SUSPICIOUS
            risk = min(risk, thresholds.deepfake - 1)

    confidence = 0
    capped: str | None = None
    if verdict is Verdict.DEEPFAKE and decisive is not None:
        confidence = max(_percent(p or 0.0), DECISIVE_CONFIDENCE)
    elif verdict is not None and p is not None:
        confidence = _percent(1.0 - p if verdict is Verdict.AUTHENTIC else p)
        if basis == "uncalibrated" and confidence > UNCALIBRATED_CONFIDENCE:
            confidence, capped = UNCALIBRATED_CONFIDENCE, "uncalibrated"
        if (
            verdict is Verdict.AUTHENTIC
            and evidence.captured is None
            and confidence > UNATTESTED_AUTHENTIC_CONFIDENCE
        ):
            confidence, capped = UNATTESTED_AUTHENTIC_CONFIDENCE, "unattested"

    subs = {name: _first_score(findings, signals) for name, signals in SUB_SCORES.items()}
    if kind is MediaKind.VIDEO:
        subs["gan_fingerprint"] = _video_gan_fingerprint(findings)
    signals = {
        signal: _maybe_percent(_signal_score(findings, signal))
        for signal in dict.fromkeys(f.signal for f in findings)
    }
    return Fused(
        verdict=verdict,
        risk_score=risk,
        confidence=confidence,
        video_score=_maybe_percent(subs["video_score"]),
        audio_score=_maybe_percent(subs["audio_score"]),
        gan_fingerprint=_maybe_percent(subs["gan_fingerprint"]),
        temporal_consistency=_maybe_percent(subs["temporal_consistency"]),
        explanation=_explain(
            kind, reports, findings, evidence, verdict, risk, confidence, decisive, basis, capped
        ),
        decisive=None if decisive is None else decisive.signal,
        signals=signals,
        basis=basis,
    )


def _verdict_sentence(noun: str, verdict: Verdict | None, risk: int | None) -> str:
    if verdict is None:
        return f"Nothing in this {noun} could be measured, so no verdict was reached."
    if verdict is Verdict.DEEPFAKE:
        return f"This {noun} is very likely synthetic or manipulated (risk {risk}/100)."
    if verdict is Verdict.SUSPICIOUS:
        return (
            f"This {noun} may be synthetic or manipulated, but not surely enough to call it "
            f"a deepfake (risk {risk}/100)."
        )
    return f"No sign of generation or manipulation was found in this {noun} (risk {risk}/100)."


def _confidence_sentence(
    confidence: int, verdict: Verdict, decisive: Finding | None, capped: str | None
) -> str:
    if decisive is not None and decisive.decision is Decision.GENERATED:
        return f"The file's own record settles it, so confidence is {confidence}/100."
    sentence = (
        f"Confidence {confidence}/100: the probability that this verdict is right, as the "
        "detectors were measured on media they had not seen"
    )
    if capped == "unattested":
        sentence += (
            f"; at most {UNATTESTED_AUTHENTIC_CONFIDENCE} because nothing positively attests "
            "the file (such as Content Credentials from a capture device) and a detector "
            "that finds nothing cannot rule out a generator it has never seen"
        )
    elif capped == "uncalibrated":
        sentence = (
            f"Confidence {confidence}/100 at most: no calibrated detector could judge this "
            "file, and the forensic signals that did are not calibrated. Treat this as an "
            "indication, not a finding"
        )
    elif verdict is Verdict.SUSPICIOUS:
        sentence += "; a second look by a person is worth it"
    return sentence + "."


def _explain(
    kind: MediaKind,
    reports: list[Report],
    findings: list[Finding],
    evidence: _Evidence,
    verdict: Verdict | None,
    risk: int | None,
    confidence: int,
    decisive: Finding | None,
    basis: str | None,
    capped: str | None,
) -> str:
    noun = _NOUNS[kind]
    parts = [_verdict_sentence(noun, verdict, risk)]
    if decisive is not None and decisive.decision is Decision.GENERATED:
        parts.append(f"Decisive: {_sentence(decisive.summary)}")
    elif decisive is not None:
        parts.append(
            f"{_sentence(decisive.summary)} That alone does not make it a deepfake: a "
            "re-saved or re-signed file fails the same check."
        )
    if verdict is not None:
        parts.append(_confidence_sentence(confidence, verdict, decisive, capped))

    if evidence.detectors:
        parts.append(
            "Detectors: " + "; ".join(_clause(f.summary) for f in evidence.detectors) + "."
        )
    if evidence.weak:
        parts.append(
            "Shown but not used for the verdict, because the pictures were judged and this "
            "detector is weak (held-out AUC under "
            f"{WEAK_DETECTOR_AUC:.2f}; 0.50 is chance): "
            + "; ".join(_clause(f.summary) for f in evidence.weak)
            + "."
        )
    provenance = [f for f in evidence.provenance if f is not decisive]
    if provenance:
        parts.append("Provenance: " + " ".join(_sentence(f.summary) for f in provenance))

    def named(side: bool) -> list[str]:
        chosen = sorted(
            (f for f in evidence.forensic if ((f.score or 0.0) >= 0.5) == side and f.score != 0.5),
            key=lambda f: -f.weight * abs((f.score or 0.0) - 0.5),
        )
        return [f"{_clause(f.summary)} (score {_percent(f.score or 0.0)})" for f in chosen]

    against, supporting = named(True), named(False)
    if basis == "uncalibrated":
        if against:
            parts.append(f"Evidence of manipulation: {'; '.join(against[:MAX_REASONS])}.")
        if supporting:
            parts.append(f"Evidence of authenticity: {'; '.join(supporting[:MAX_REASONS])}.")
    elif against or supporting:
        parts.append(
            "Forensic signals, shown but not used for the verdict because they were near "
            "chance on held-out media: " + "; ".join((against + supporting)[:MAX_REASONS]) + "."
        )

    unchecked = [
        _sentence(f.summary)
        for f in findings
        if f.score is None and f.decision is None and f.odds is None
    ]
    unchecked += [
        f"The {report.analyzer.replace('_', ' ')} analysis could not run: {_sentence(report.error)}"
        for report in reports
        if report.error
    ]
    if unchecked:
        parts.append("Not checked or not conclusive: " + " ".join(dict.fromkeys(unchecked)))
    if verdict is not None:
        parts.append(f"What this analysis cannot see: {LIMITS[kind]}.")
    return " ".join(parts)
