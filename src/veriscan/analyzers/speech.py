"""The learned detector of synthetic speech: AASIST-L's view of a recording, read by
Veriscan's probe (`speech_detector`).

AASIST-L (clovaai/aasist, MIT; `models/aasist-l.onnx`, described in `models/aasist-l.md`)
is an anti-spoofing network trained on ASVspoof 2019 LA. On speech from systems it was not
trained on it is a weak detector (held-out AUC 0.67 on 739 recordings from 29 sources,
against its published EER of 1% on its own corpus), and a probe on its 160-number embedding
learned each source's recording conditions instead of synthesis. So Veriscan's probe
(`veriscan train speech`, `models/speech_probe.json`) reads its spoof logit, calibrated on
held-out folds grouped by source like the image probe, so that its probability is honest
for voices like those it was measured on and modest everywhere. From the seventh session
to the ninth it also read eight traits the audio module measures on each window (`CUES`:
how the phase of the harmonics advances, the pitch's and loudness's wobble, the pitch's
range, spectral flatness and its spread, held notes, digital silence); they lifted its
first set's folds to 0.78 and failed on sources it had never seen (0.39 on 251 recordings
from 10 of them), so the probe reads them only when fitted with `--traits`. The traits are
still measured and shown, and the probe file keeps their place (with zero weights).

Its finding carries its held-out AUC (`Finding.measured_auc`): fusion counts a detector
under `fusion.WEAK_DETECTOR_AUC` as weak, and a weak soundtrack does not vote on a video
whose pictures were judged.

A recording is resampled to 16 kHz; the `WINDOWS` windows of AASIST's 4.04 s (64,600
samples) holding the most voiced speech are chosen among windows `STRIDE` apart (a clip
shorter than one window is repeated to fill it, as AASIST's own evaluation does), each is
brought to the same loudness, and the probe's log-odds are averaged over them. A recording
without speech (silent, music, steady tones) is not judged.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from veriscan.analyzers import models
from veriscan.analyzers.audio import (
    HOP,
    RATE,
    DecodedAudio,
    decode_audio,
    find_speech,
    measure_cues,
    to_rate,
)
from veriscan.analyzers.base import (
    Analyzer,
    AnalyzerFailed,
    Finding,
    MediaKind,
    MediaSample,
    Report,
)
from veriscan.analyzers.clip import Calibration, LinearProbe, measured
from veriscan.analyzers.fusion import WEAK_DETECTOR_AUC

logger = logging.getLogger("veriscan.analyzers")

AASIST_L = models.ModelFile(
    name="aasist-l",
    filename="aasist-l.onnx",
    sha256="f173ce25fdc5c83054ff0500215f249edfd0608c5033c2038108bc11650f578d",
    arena=False,
)
PROBE_FILE = models.PACKAGE_DIR / "speech_probe.json"
WINDOW = 64_600  # AASIST's input: 4.04 s at 16 kHz
STRIDE = 2 * RATE
WINDOWS = 3  # about 0.25 s of CPU each: three keep 30 s of audio under a second
TARGET_RMS_DBFS = -23.0
MAX_GAIN_DB = 30.0
MAX_SECONDS = 60.0
# What the probe reads of a window besides AASIST-L: the audio module's measurements of it
# (`audio.measure_cues`), by name; a trait that cannot be read on a window is NaN, and the
# probe puts its training mean in its place (`impute`). The bandwidth is left out: it says
# how a file was encoded, not whether the voice was synthesised.
CUES = (
    "spectral_flatness",
    "pitch_jitter",
    "shimmer",
    "phase_regularity",
    "digital_silence",  # the noise-floor cue's value: its share between first and last word
    "flatness_spread",
    "pitch_range_semitones",
    "held_pitch_fraction",
)
# How each reading is put in words when it weighed on a verdict: (when it is higher than in
# the average training window, when lower). Whether that points to synthesis or to a
# recording is the probe's learned weight, not these words.
SAYS: dict[str, tuple[str, str]] = {
    "aasist": ("AASIST-L's own score leaning more to synthesis than on average", "AASIST-L's own score leaning more to a recording than on average"),  # noqa: E501
    "spectral_flatness": ("more noise between the harmonics", "less noise between the harmonics"),
    "pitch_jitter": ("more pitch wobble from one instant to the next", "less pitch wobble from one instant to the next"),  # noqa: E501
    "shimmer": ("more loudness wobble within each sound", "less loudness wobble within each sound"),
    "phase_regularity": ("the harmonics' phase advancing more regularly", "the harmonics' phase advancing less regularly"),  # noqa: E501
    "digital_silence": ("more digital silence between words", "less digital silence between words"),
    "flatness_spread": ("noisiness that changes more from sound to sound", "noisiness that changes less from sound to sound"),  # noqa: E501
    "pitch_range_semitones": ("a wider pitch range", "a narrower pitch range"),
    "held_pitch_fraction": ("more held, level pitch", "less held, level pitch"),
}  # fmt: skip
WORTH_A_WORD = 0.1  # a reading that moved the log-odds less than this is not named
AASIST_WIDTH = 161  # AASIST-L's 160-number embedding and its spoof logit
WIDTH = AASIST_WIDTH + len(CUES)
MEASURED_AS = {"digital_silence": "noise_floor"}  # a trait read from a cue of another name

Floats = npt.NDArray[np.float32]


def windows(speech: npt.NDArray[np.float64], count: int = WINDOWS) -> list[Floats]:
    """Up to `count` AASIST windows of a 16 kHz recording, most voiced first, at the same
    loudness; [] when the recording holds no speech to judge."""
    found = find_speech(speech)
    if found.reason:
        return []
    if speech.size <= WINDOW:
        repeats = -(-WINDOW // speech.size)
        return [_level(np.tile(speech, repeats)[:WINDOW])]
    starts = list(range(0, speech.size - WINDOW + 1, STRIDE))
    if starts[-1] != speech.size - WINDOW:
        starts.append(speech.size - WINDOW)
    voiced = found.voiced.astype(np.float64)
    frames = WINDOW // HOP
    density = [float(voiced[s // HOP : s // HOP + frames].sum()) for s in starts]
    chosen: list[int] = []
    for index in sorted(range(len(starts)), key=lambda i: (-density[i], starts[i])):
        if len(chosen) == count:
            break
        if all(abs(starts[index] - starts[other]) >= WINDOW for other in chosen):
            chosen.append(index)
    return [_level(speech[starts[i] : starts[i] + WINDOW]) for i in sorted(chosen)]


def window_cues(window: Floats) -> Floats:
    """The `CUES` of one window, NaN where a trait cannot be read on it."""
    decoded = DecodedAudio(np.asarray(window, np.float64), RATE, "pcm", 1, None, RATE)
    cues, _reason, facts = measure_cues(decoded)
    values: list[float | None] = []
    for name in CUES:
        source = MEASURED_AS.get(name, name)
        if cues is None:
            values.append(None)
        elif source in cues:
            values.append(cues[source].value)
        else:
            values.append(facts.get(source))
    out: Floats = np.asarray([np.nan if v is None else v for v in values], np.float32)
    return out


def _level(window: npt.NDArray[np.float64]) -> Floats:
    rms = float(np.sqrt(np.mean(window**2)))
    gain_db = TARGET_RMS_DBFS - 20 * np.log10(max(rms, 1e-9))
    gain = 10 ** (min(MAX_GAIN_DB, gain_db) / 20)
    levelled: Floats = np.clip(window * gain, -1.0, 1.0).astype(np.float32)
    return levelled


class SpeechModel:
    """AASIST-L's session: per window, its 160-number embedding and its spoof logit
    (`aasist`), and those beside the window's `CUES` (`features`, what the probe reads)."""

    def __init__(self) -> None:
        self.session = models.session(AASIST_L)

    def features(self, batch: list[Floats]) -> Floats:
        out: Floats = np.zeros((len(batch), WIDTH), np.float32)
        out[:, :AASIST_WIDTH] = self.aasist(batch)
        for row, window in enumerate(batch):
            out[row, AASIST_WIDTH:] = window_cues(window)
        return out

    def aasist(self, batch: list[Floats]) -> Floats:
        rows = []
        # One window per run: a batch of three takes 3x the memory (about 520 MB against
        # 160) for no gain in time on the CPU.
        for window in batch:
            embedding, logits = self.session.run(None, {"waveform": window[None, :]})
            spoof = (logits[:, 0] - logits[:, 1])[:, None]  # index 0 spoof, 1 bona fide
            rows.append(np.concatenate([embedding, spoof], axis=1))
        out: Floats = (
            np.concatenate(rows).astype(np.float32)
            if rows
            else np.zeros((0, AASIST_WIDTH), np.float32)
        )
        return out


@dataclass(frozen=True)
class Weighed:
    name: str  # "aasist" (AASIST-L's spoof logit) or one of CUES
    share: float  # of the probe's log-odds, against the average training window
    above: bool  # the reading is higher than in the average training window


@dataclass(frozen=True)
class SpeechProbe:
    name: str
    weights: Floats  # over SpeechModel.features, standardisation folded in
    bias: float
    calibration: Calibration
    impute: Floats  # what stands in for a trait that could not be read (the training mean)
    mean_logit: float  # AASIST-L's mean spoof logit over the training windows
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SpeechProbe:
        probe = LinearProbe.read(path, WIDTH, "a speech probe")
        if probe.raw.get("traits") != list(CUES):
            raise ValueError(f"{path.name}: a speech probe must read the traits {list(CUES)}")
        impute = np.asarray(probe.raw.get("impute") or [], np.float32)
        mean_logit = float(probe.raw.get("mean_logit", math.nan))
        if impute.shape != (len(CUES),) or not np.all(np.isfinite(impute)):
            raise ValueError(f"{path.name}: a speech probe needs {len(CUES)} finite `impute`")
        if not math.isfinite(mean_logit):
            raise ValueError(f"{path.name}: a speech probe needs a finite `mean_logit`")
        return cls(
            probe.name,
            probe.weights,
            probe.bias,
            probe.calibration,
            impute,
            mean_logit,
            probe.metrics,
        )

    def held_out_auc(self) -> float | None:
        """The held-out ROC AUC recorded when the probe was fitted, if any."""
        auc = self.metrics.get("auc")
        return float(auc) if isinstance(auc, int | float) and math.isfinite(auc) else None

    def reads(self) -> str:
        """What the probe reads, in words: AASIST-L alone, or with the voice's traits."""
        if np.any(self.weights[AASIST_WIDTH:]):
            return "AASIST-L and measured traits of the voice"
        return "AASIST-L's spoof score"

    def filled(self, features: Floats) -> Floats:
        """`features` with each trait that could not be read given its training mean."""
        out = features.copy()
        cues = out[:, AASIST_WIDTH:]
        missing = np.isnan(cues)
        cues[missing] = np.broadcast_to(self.impute, cues.shape)[missing]
        return out

    def logits(self, features: Floats) -> Floats:
        out: Floats = self.filled(features) @ self.weights + np.float32(self.bias)
        return out

    def weighed(self, features: Floats) -> list[Weighed]:
        """What moved the probe's log-odds away from those of the average training window,
        reading by reading, largest share first, over the windows' mean readings. The
        traits' training means are `impute`; AASIST-L's logit's is `mean_logit`. Only the
        readings the probe reads (a weight that is not zero) are listed."""
        readings = self.filled(features).astype(np.float64).mean(axis=0)[AASIST_WIDTH - 1 :]
        centre = np.concatenate([[self.mean_logit], self.impute])
        weights = self.weights[AASIST_WIDTH - 1 :].astype(np.float64)
        shares = weights * (readings - centre)
        out = [
            Weighed(name, float(share), bool(value > mean))
            for name, weight, share, value, mean in zip(
                ("aasist", *CUES), weights, shares, readings, centre, strict=True
            )
            if weight != 0
        ]
        return sorted(out, key=lambda w: -abs(w.share))


class _Loaded:
    lock = threading.Lock()
    model: SpeechModel | None = None
    probes: ClassVar[dict[Path, SpeechProbe]] = {}


class SpeechDetector(Analyzer):
    name: ClassVar[str] = "speech_detector"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.AUDIO})

    def __init__(self, probe_path: Path = PROBE_FILE) -> None:
        self.unavailable: str | None = None
        try:
            with _Loaded.lock:
                if _Loaded.model is None:
                    _Loaded.model = SpeechModel()
                self.model = _Loaded.model
                probe = _Loaded.probes.get(probe_path)
                if probe is None:
                    probe = _Loaded.probes[probe_path] = SpeechProbe.load(probe_path)
                self.probe = probe
        except Exception as exc:  # a missing file, a bad probe, a graph onnxruntime refuses
            self.unavailable = f"the learned speech detector is not available: {exc}"
            logger.warning("analyzers.detector_unavailable reason=%s", exc)

    def analyze(self, sample: MediaSample) -> Report:
        if self.unavailable is not None:
            raise AnalyzerFailed(self.unavailable)
        decoded = decode_audio(sample.path, max_seconds=MAX_SECONDS)
        speech = to_rate(decoded.samples, decoded.rate, RATE)
        chosen = windows(speech)
        if not chosen:
            summary = "The learned speech detector found no speech to judge"
            return Report(self.name, findings=[Finding("speech_detector", None, 0.0, summary)])
        features = self.model.features(chosen)
        logits = self.probe.logits(features)
        logit = float(np.mean(logits))
        probability = self.probe.calibration.probability(logit)
        seconds = min(len(chosen) * WINDOW, speech.size) / RATE
        weighed = self.probe.weighed(features)
        auc = self.probe.held_out_auc()
        weak = auc is not None and auc < WEAK_DETECTOR_AUC
        summary = (
            f"the learned speech detector ({self.probe.reads()}, with Veriscan's probe; "
            f"{measured(self.probe.metrics, 'recordings')}"
            f"{'; a weak detector, whose reading is a hint' if weak else ''}"
            f") rates {seconds:.0f} s of the voice {probability:.0%} likely to be synthetic"
            f"{_what_weighed(weighed)}"
        )
        details = {
            "model": self.probe.name,
            "window_logits": [round(float(v), 4) for v in logits],
            "logit": round(logit, 4),
            "probability": round(probability, 4),
            "traits": _traits(features[:, AASIST_WIDTH:]),
            "weighed": {w.name: round(w.share, 4) for w in weighed},
        }
        finding = Finding(
            "speech_detector",
            round(probability, 4),
            1.0,
            summary,
            details,
            calibrated=True,
            measured_auc=auc,
        )
        return Report(self.name, findings=[finding])


def _traits(cues: Floats) -> dict[str, float | None]:
    """Each trait's mean over the windows it could be read on (None if on none)."""
    out: dict[str, float | None] = {}
    for name, column in zip(CUES, cues.T, strict=True):
        readable = column[np.isfinite(column)]
        out[name] = round(float(readable.mean()), 4) if readable.size else None
    return out


def _what_weighed(weighed: list[Weighed], count: int = 2) -> str:
    """The readings that moved the log-odds most, in words: '; what weighed most: ...';
    nothing when the probe reads one thing (its probability already says which way)."""
    if len(weighed) < 2:
        return ""
    parts = []
    for reading in weighed[:count]:
        if abs(reading.share) < WORTH_A_WORD:
            break
        higher, lower = SAYS[reading.name]
        words = higher if reading.above else lower
        if reading.name != "aasist":
            words = f"{words} than in the average voice it was trained on"
        side = "synthesis" if reading.share > 0 else "a recording"
        parts.append(f"{words} (pointing to {side})")
    return f"; what weighed most: {'; '.join(parts)}" if parts else ""
