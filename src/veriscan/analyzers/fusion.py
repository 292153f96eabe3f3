"""From the analyzers' findings to a media scan's scores, verdict and explanation.

The rules, in order:

1. A finding that carries a `Decision` (a signed or embedded AI-generation declaration,
   generator metadata, Content Credentials whose hashes no longer match) settles the
   verdict: DEEPFAKE, risk at least `DECISIVE_RISK`, confidence at least
   `DECISIVE_CONFIDENCE`. The signal analysis is still reported beside it.
2. Every other finding with a score and a weight > 0 is evidence. The weights are the
   analyzers' own (`Finding.weight`, documented in each analyzer); fusion adds none.
   They are pooled in log-odds space (a weighted logarithmic opinion pool):
       risk = sigmoid( sum(w_i * logit(s_i)) / sum(w_i) ),  s_i clipped to [0.02, 0.98]
   so a score of 0.5 is neutral, one strong signal is not drowned by several lukewarm
   ones as it would be in a plain average, and adding more signals does not by itself
   push the risk to an extreme. Findings without a score (no face, no audio, no
   Content Credentials) are not evidence either way: absence proves nothing.
3. The verdict compares the risk (0-100) with the thresholds: >= deepfake -> DEEPFAKE,
   >= suspicious -> SUSPICIOUS, else AUTHENTIC. With no evidence at all there is no
   risk and no verdict (None): a number would be made up.
4. Confidence (0-100) says how sure the verdict is:
       coverage  = min(1, sum(w_i) / FULL_EVIDENCE_WEIGHT)   how much evidence there is
       agreement = the weighted share of evidence on the verdict's side of 0.5
       margin    = |risk - 0.5| * 2                          how far from the fence
       confidence = 100 * sqrt(coverage) * (agreement + margin) / 2
5. Sub-scores are the scores of named signals, 0-100, or None when the signal is absent
   or was not measurable: videoScore <- "video_frames", audioScore <- "audio_synthetic",
   ganFingerprint <- "gan_fingerprint" (for video, the frames' own mean when no separate
   finding exists), temporalConsistency <- "temporal_consistency". Like the risk, every
   sub-score is a suspicion: higher means more likely synthetic or manipulated.
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
FULL_EVIDENCE_WEIGHT = 1.5  # e.g. three independent signals of weight 0.5
SCORE_CLIP = 0.02  # no heuristic is ever 99.9 % sure; this bounds one signal's pull
MAX_REASONS = 3  # evidence named on each side of the verdict

SUB_SCORES = {
    "video_score": "video_frames",
    "audio_score": "audio_synthetic",
    "gan_fingerprint": "gan_fingerprint",
    "temporal_consistency": "temporal_consistency",
}
_NOUNS = {MediaKind.IMAGE: "image", MediaKind.VIDEO: "video", MediaKind.AUDIO: "recording"}


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
    decisive: str | None = None  # the signal whose decision settled the verdict
    signals: dict[str, int | None] = field(default_factory=dict)  # every signal, 0-100

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


def _logit(score: float) -> float:
    clipped = min(1.0 - SCORE_CLIP, max(SCORE_CLIP, score))
    return math.log(clipped / (1.0 - clipped))


def _signal_score(findings: list[Finding], signal: str) -> float | None:
    """Weighted mean of one signal's measured scores (several reports may carry it)."""
    measured = [f for f in findings if f.signal == signal and f.score is not None]
    if not measured:
        return None
    total = sum(f.weight for f in measured)
    if total <= 0:
        return sum(f.score or 0.0 for f in measured) / len(measured)
    return sum((f.score or 0.0) * f.weight for f in measured) / total


def _frames_gan_fingerprint(findings: list[Finding]) -> float | None:
    """A video's upsampling fingerprint, as the frame analysis averaged it."""
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


def fuse(kind: MediaKind, reports: Iterable[Report], thresholds: Thresholds | None = None) -> Fused:
    thresholds = thresholds or Thresholds()
    reports = list(reports)
    findings = [finding for report in reports for finding in report.findings]
    decisive = max(
        (f for f in findings if f.decision is not None),
        key=lambda f: (f.decision is Decision.GENERATED, f.weight),
        default=None,
    )
    evidence = [f for f in findings if f.score is not None and f.weight > 0 and f.decision is None]
    total = sum(f.weight for f in evidence)
    pooled = (
        1.0 / (1.0 + math.exp(-sum(f.weight * _logit(f.score or 0.0) for f in evidence) / total))
        if total > 0
        else None
    )

    risk: int | None = None if pooled is None else _percent(pooled)
    confidence = 0
    if pooled is not None:
        leaning = pooled >= 0.5
        pull = [(f.weight * abs((f.score or 0.0) - 0.5), (f.score or 0.0) >= 0.5) for f in evidence]
        strength = sum(amount for amount, _ in pull)
        agreement = (
            sum(amount for amount, side in pull if side == leaning) / strength if strength else 0.0
        )
        coverage = min(1.0, total / FULL_EVIDENCE_WEIGHT)
        margin = abs(pooled - 0.5) * 2
        confidence = _percent(math.sqrt(coverage) * (agreement + margin) / 2)
    if decisive is not None:
        risk = max(risk or 0, DECISIVE_RISK)
        confidence = max(confidence, DECISIVE_CONFIDENCE)

    verdict: Verdict | None = None
    if decisive is not None:
        verdict = Verdict.DEEPFAKE
    elif risk is not None:
        if risk >= thresholds.deepfake:
            verdict = Verdict.DEEPFAKE
        elif risk >= thresholds.suspicious:
            verdict = Verdict.SUSPICIOUS
        else:
            verdict = Verdict.AUTHENTIC

    subs = {name: _signal_score(findings, signal) for name, signal in SUB_SCORES.items()}
    if subs["gan_fingerprint"] is None and kind is MediaKind.VIDEO:
        subs["gan_fingerprint"] = _frames_gan_fingerprint(findings)
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
            kind, reports, findings, evidence, verdict, risk, confidence, decisive, pooled
        ),
        decisive=None if decisive is None else decisive.signal,
        signals=signals,
    )


def _explain(
    kind: MediaKind,
    reports: list[Report],
    findings: list[Finding],
    evidence: list[Finding],
    verdict: Verdict | None,
    risk: int | None,
    confidence: int,
    decisive: Finding | None,
    pooled: float | None,
) -> str:
    noun = _NOUNS[kind]
    parts: list[str] = []
    if verdict is None:
        parts.append(f"Nothing in this {noun} could be measured, so no verdict was reached.")
    elif verdict is Verdict.DEEPFAKE:
        parts.append(f"This {noun} is very likely synthetic or manipulated (risk {risk}/100).")
    elif verdict is Verdict.SUSPICIOUS:
        parts.append(
            f"This {noun} shows signs of manipulation, but not enough to call it a deepfake "
            f"(risk {risk}/100)."
        )
    else:
        parts.append(f"No strong sign of manipulation was found in this {noun} (risk {risk}/100).")

    if decisive is not None:
        parts.append(f"Decisive: {_sentence(decisive.summary)}")
        if pooled is not None and pooled < 0.5:
            parts.append(
                "The signal analysis alone found no strong trace, which does not outweigh that."
            )

    def named(side: bool) -> list[str]:
        chosen = sorted(
            (f for f in evidence if ((f.score or 0.0) >= 0.5) == side and f.score != 0.5),
            key=lambda f: -f.weight * abs((f.score or 0.0) - 0.5),
        )
        return [f"{_clause(f.summary)} (score {_percent(f.score or 0.0)})" for f in chosen]

    against, supporting = named(True), named(False)
    if against:
        parts.append(f"Evidence of manipulation: {'; '.join(against[:MAX_REASONS])}.")
    if supporting:
        parts.append(f"Evidence of authenticity: {'; '.join(supporting[:MAX_REASONS])}.")

    if decisive is not None:
        parts.append(f"The file's own record settles it, so confidence is {confidence}/100.")
    elif verdict is not None:
        if confidence >= 75:
            how = "the signals agree, so the system is fairly sure"
        elif confidence >= 50:
            how = "the system is moderately sure"
        else:
            how = "the evidence is thin or mixed: treat this as an indication, not a finding"
        parts.append(f"Confidence {confidence}/100: {how}.")

    unchecked = [_sentence(f.summary) for f in findings if f.score is None and f.decision is None]
    unchecked += [
        f"The {report.analyzer.replace('_', ' ')} analysis could not run: {_sentence(report.error)}"
        for report in reports
        if report.error
    ]
    if unchecked:
        parts.append("Not checked or not conclusive: " + " ".join(dict.fromkeys(unchecked)))
    return " ".join(parts)
