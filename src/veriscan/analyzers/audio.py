"""Cues of synthetic speech, measured on the signal itself.

Text-to-speech and voice-cloning systems leave traces that a few classic measurements can
see: they generate at 16-24 kHz and so stop short of a wide container's bandwidth, and they
often put pure digital silence between words where a microphone always hears a room. None
of these is proof: a low-bitrate codec also cuts the bandwidth and flattens noise. The
vocoders of old also smoothed away the cycle-to-cycle wobble of a human voice (jitter,
shimmer) and made phase evolve too regularly; today's neural ones do the opposite on the
speech training set, so those three cues are measured and shown but do not vote
(`MEASURED_THE_OTHER_WAY`). The cues are combined into one `audio_synthetic` finding, an
uncalibrated fallback that votes only when the learned speech detector cannot run, whose
details list every cue with its measured value and the weight of its vote, so a reader can
check why.

Memory stays bounded: at most `max_seconds` of audio (mono, at most 48 kHz) are decoded,
frame by frame, whatever rate the file declares.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageDraw
from scipy.signal import resample_poly, savgol_filter

from veriscan.analyzers.base import (
    AV_OPTIONS,
    MAX_SAMPLE_RATE,
    Analyzer,
    AnalyzerFailed,
    EvidenceImage,
    Finding,
    MediaKind,
    MediaSample,
    Report,
)

Signal = npt.NDArray[np.float64]
Complex = npt.NDArray[np.complex128]

RATE = 16_000  # every cue but the bandwidth is measured at this rate
# Wider files are decoded at this rate: every cue lives below its 24 kHz, and decoded size,
# like the resampling filter, would otherwise grow with whatever rate a file declares.
MAX_ANALYSIS_RATE = 48_000
HOP = 160  # 10 ms between analysis frames
WINDOW = 400  # 25 ms level and pitch window
STFT_SIZE = 512  # 32 ms spectra for flatness and phase
F0_MIN, F0_MAX = 60.0, 500.0  # human speaking voices, low men to children
TAU_MIN, TAU_MAX = int(RATE / F0_MAX), int(RATE / F0_MIN)
SILENT_DBFS = -60.0  # a file whose loudest moments stay below this is silent
DIGITAL_SILENCE_DBFS = -80.0  # below any microphone's self-noise
MIN_VOICED_SECONDS = 1.0  # less voiced sound than this is not enough speech to judge
MUSIC_PLATEAU_FRACTION = 0.3  # held notes: speech pitch never sits still this long
FULL_WEIGHT_VOICED_SECONDS = 3.0

# How much each cue counts in the combined score (they sum to 1 as drawn; the vote divides
# by the weights of the cues that vote, see `MEASURED_THE_OTHER_WAY`). The noise floor leads
# because digital silence between words is the least ambiguous trace; the bandwidth and
# flatness cues are weaker because low-bitrate codecs produce them too.
CUE_WEIGHTS: dict[str, float] = {
    "noise_floor": 0.30,
    "bandwidth": 0.15,
    "spectral_flatness": 0.15,
    "pitch_jitter": 0.15,
    "shimmer": 0.10,
    "phase_regularity": 0.15,
}
# Cue -> (reference point, logistic width, what a suspicious value says, what a natural
# one says); suspicion rises below the point, or above it for a negative width. Points,
# from recorded voices: frame-level pitch wobble 0.25-0.6 %, level wobble 0.15-0.3 dB,
# phase regularity 0.65-0.85, mean log10 flatness above -2.3 (breath and room noise); a
# perfectly regular vocoder sits near 0.05 %, 0.05 dB and 0.99. The flatness point was
# read off a small labelled set and is the least certain of them.
CURVES: dict[str, tuple[float, float, str, str]] = {
    "spectral_flatness": (
        -2.3,
        0.2,
        "the voice carries little noise between its harmonics",
        "the voice carries the breath and room noise of a recording",
    ),
    "pitch_jitter": (
        0.15,
        0.03,
        "the pitch is unnaturally steady from one instant to the next",
        "the pitch wobbles slightly, as a human voice does",
    ),
    "shimmer": (
        0.10,
        0.02,
        "the loudness is unnaturally even within each sound",
        "the loudness varies slightly within each sound, as a voice does",
    ),
    "phase_regularity": (
        0.93,
        -0.02,
        "the phase of the harmonics advances with machine regularity",
        "the phase of the harmonics varies as in recorded speech",
    ),
}
# Cues whose curve above points the other way from what the speech training set measures
# (models/aasist-l.md: synthetic voices there have more pitch and level wobble and less
# regular phase than recorded ones; the curves were drawn for the regular vocoders of old).
# They are measured and shown, but neither vote in `combine` (the fallback used when the
# learned speech detector cannot run) nor appear as a reason in the summary. (A speech
# probe fitted with `--traits` reads them with their measured direction; the shipped one
# reads AASIST-L alone.)
MEASURED_THE_OTHER_WAY = frozenset({"pitch_jitter", "shimmer", "phase_regularity"})
# The finding's weight in fusion at full speech length: heuristic cues, measured AUC
# well short of a learned detector's, so less than a decisive or image signal.
FINDING_WEIGHT = 0.5


@dataclass(frozen=True)
class DecodedAudio:
    samples: Signal  # mono, at most max_seconds
    rate: int  # of `samples`: the native rate, or MAX_ANALYSIS_RATE if that is lower
    codec: str
    channels: int
    duration: float | None  # the whole stream's, from the container, when it says
    native_rate: int


@dataclass(frozen=True)
class Cue:
    value: float | None
    score: float | None  # 0..1 suspicion, None when this cue cannot be read on this file
    says: str  # what the value means, in plain words


def decode_audio(path: Path, *, max_seconds: float = 60.0) -> DecodedAudio:
    """Decode the first audio stream to mono float at its own rate (at most
    MAX_ANALYSIS_RATE, which FFmpeg resamples to), stopping at the cap."""
    try:
        with av.open(str(path), options=AV_OPTIONS) as container:
            if not container.streams.audio:
                raise AnalyzerFailed("the file has no audio stream")
            stream = container.streams.audio[0]
            native = int(stream.codec_context.sample_rate or stream.rate or 0)
            if native <= 0:
                raise AnalyzerFailed("the audio stream does not state its sample rate")
            if native > MAX_SAMPLE_RATE:
                raise AnalyzerFailed(
                    f"the audio stream declares {native} Hz, above the {MAX_SAMPLE_RATE} Hz "
                    "of any recording"
                )
            if not stream.codec_context.channels:
                raise AnalyzerFailed("the audio stream declares no channels")
            rate = min(native, MAX_ANALYSIS_RATE)
            limit = int(max_seconds * rate)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks: list[npt.NDArray[np.float32]] = []
            decoded = 0
            try:
                for frame in container.decode(stream):
                    for mono in resampler.resample(frame):
                        chunk = np.asarray(mono.to_ndarray(), np.float32).reshape(-1)
                        chunks.append(chunk)
                        decoded += chunk.size
                    if decoded >= limit:
                        break
            except av.FFmpegError:
                # A truncated file still has a readable beginning: judge what decoded.
                if not chunks:
                    raise
            duration = None
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            if duration is None and container.duration:
                duration = container.duration / 1_000_000
            codec, channels = stream.codec_context.name, int(stream.codec_context.channels)
    except av.FFmpegError as exc:
        raise AnalyzerFailed(f"the audio cannot be decoded ({type(exc).__name__})") from exc
    if not chunks:
        raise AnalyzerFailed("the audio stream holds no samples")
    samples = np.concatenate(chunks)[:limit].astype(np.float64)
    if not np.all(np.isfinite(samples)):
        raise AnalyzerFailed("the audio decodes to invalid sample values")
    return DecodedAudio(samples, rate, codec, channels, duration, native)


def to_rate(samples: Signal, rate: int, target: int = RATE) -> Signal:
    if rate == target:
        return samples
    divisor = math.gcd(rate, target)
    return np.asarray(resample_poly(samples, target // divisor, rate // divisor), np.float64)


def _frames(signal: Signal, length: int) -> Signal:
    if signal.size < length:
        signal = np.pad(signal, (0, length - signal.size))
    return sliding_window_view(signal, length)[::HOP]


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def _levels_db(speech: Signal) -> Signal:
    rms = np.sqrt(np.mean(_frames(speech, WINDOW) ** 2, axis=1))
    return np.asarray(20.0 * np.log10(rms + 1e-10), np.float64)


def _pitch(speech: Signal, count: int) -> tuple[Signal, Signal]:
    """Pitch period (samples) and aperiodicity per frame, after YIN (de Cheveigne 2002).

    The difference function d(tau) = e(0) + e(tau) - 2 r(tau) is computed in blocks
    through the FFT, so a minute of audio costs well under a second.
    """
    length = WINDOW + TAU_MAX
    frames = _frames(np.pad(speech, (0, TAU_MAX)), length)[:count]
    periods, aperiodicity = np.zeros(len(frames)), np.ones(len(frames))
    lags = np.arange(1, TAU_MAX + 1)
    for start in range(0, len(frames), 512):
        block = frames[start : start + 512]
        head = np.fft.rfft(block[:, :WINDOW], 1024)
        corr = np.fft.irfft(np.conj(head) * np.fft.rfft(block, 1024), 1024)[:, : TAU_MAX + 1]
        energy = np.concatenate([np.zeros((len(block), 1)), np.cumsum(block**2, axis=1)], 1)
        shifted = energy[:, WINDOW : WINDOW + TAU_MAX + 1] - energy[:, : TAU_MAX + 1]
        diff = energy[:, WINDOW][:, None] + shifted - 2.0 * corr
        cmnd = diff[:, 1:] * lags / np.maximum(np.cumsum(diff[:, 1:], axis=1), 1e-12)
        search = cmnd[:, TAU_MIN - 1 : TAU_MAX - 1]
        # First dip under the threshold, followed down to its local minimum; else the
        # global minimum (which then reads as unvoiced through its high aperiodicity).
        below = search < 0.15
        first = np.where(below.any(axis=1), below.argmax(axis=1), search.argmin(axis=1))
        cols = np.arange(search.shape[1] - 1)
        rising = (search[:, 1:] >= search[:, :-1]) & (cols >= first[:, None])
        best = np.where(rising.any(axis=1), rising.argmax(axis=1), search.argmin(axis=1))
        rows = np.arange(len(block))
        left = search[rows, np.maximum(best - 1, 0)]
        mid = search[rows, best]
        right = search[rows, np.minimum(best + 1, search.shape[1] - 1)]
        curve = left - 2 * mid + right
        offset = np.where(curve > 0, 0.5 * (left - right) / np.where(curve > 0, curve, 1), 0)
        periods[start : start + len(block)] = best + TAU_MIN + np.clip(offset, -0.5, 0.5)
        aperiodicity[start : start + len(block)] = mid
    return periods, aperiodicity


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _jitter(periods: Signal, voiced: npt.NDArray[np.bool_]) -> float | None:
    """Median relative deviation of the pitch period from its own 50 ms moving average
    inside voiced stretches: the fast wobble left once the intonation is taken out."""
    deviations = []
    for start, end in _runs(voiced):
        if end - start >= 7:
            values = periods[start:end]
            smooth = np.convolve(values, np.ones(5) / 5, mode="valid")
            deviations.append(np.abs(values[2:-2] - smooth) / smooth)
    return float(np.median(np.concatenate(deviations))) if deviations else None


def _shimmer(speech: Signal, periods: Signal, voiced: npt.NDArray[np.bool_]) -> float | None:
    """Median level wobble (dB) of voiced stretches around a local quadratic trend.

    Levels are taken over exactly two pitch periods, or a perfectly steady voice would
    still ripple as the window slides across its cycles; the quadratic trend removes the
    rise and fall of each syllable, which a moving average would leave behind.
    """
    energy = np.concatenate([[0.0], np.cumsum(speech**2)])
    starts = np.arange(voiced.size) * HOP
    ends = np.minimum(starts + 2.0 * periods[: voiced.size], speech.size)
    power = (np.interp(ends, np.arange(energy.size), energy) - energy[starts]) / np.maximum(
        ends - starts, 1.0
    )
    levels = 10.0 * np.log10(power + 1e-12)
    deviations = []
    for start, end in _runs(voiced):
        if end - start >= 9:
            values = levels[start:end]
            deviations.append(np.abs(values - savgol_filter(values, 7, 2))[3:-3])
    return float(np.median(np.concatenate(deviations))) if deviations else None


def _bandwidth_cue(decoded: DecodedAudio) -> Cue:
    """Where the long-term spectrum of the louder half stops: the band the voice was made in."""
    size = 1 << max(10, int(math.log2(decoded.rate / 20)))  # bins of ~20 Hz at any rate
    usable = decoded.samples[: decoded.samples.size // size * size]
    if usable.size == 0:
        usable = np.pad(decoded.samples, (0, size - decoded.samples.size))
    frames = usable.reshape(-1, size)
    power = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    loud = power.sum(axis=1) >= np.median(power.sum(axis=1))
    spectrum = 10 * np.log10(power[loud].mean(axis=0) + 1e-20)
    freqs = np.fft.rfftfreq(size, 1.0 / decoded.rate)
    nyquist = decoded.rate / 2
    speech_peak = float(spectrum[(freqs >= 200) & (freqs <= 4000)].max())
    # Loudest level at or above each frequency: it only falls, and falls off a cliff
    # where the band the voice was made in ends. A voice's own roll-off up there is a
    # few dB per octave; a band limit drops >= 25 dB within a kilohertz, to nothing.
    ceiling = np.maximum.accumulate(spectrum[::-1])[::-1]
    half = max(1, int(500 / freqs[1]))
    drop = ceiling[: -2 * half] - ceiling[2 * half :]
    centre = freqs[half : half + drop.size]
    dead_above = ceiling[2 * half :] < speech_peak - 50.0
    candidates = np.where((centre >= 3000) & dead_above, drop, 0.0)
    edge = int(np.argmax(candidates))
    if candidates[edge] >= 25.0 and centre[edge] < 0.9 * nyquist:
        # The edge itself: where the ceiling first falls 10 dB under its level a
        # kilohertz before the cliff (resampling filters leave a slope, not a wall).
        before = max(0, edge - 2 * half)
        falls = ceiling[before:] < ceiling[before] - 10.0
        cutoff = float(freqs[before + int(np.argmax(falls))])
        return Cue(
            cutoff,
            _logistic((11_500.0 - cutoff) / 800.0),
            f"the sound stops sharply at {cutoff / 1000:.1f} kHz although the file could "
            f"carry up to {nyquist / 1000:.1f} kHz",
        )
    if nyquist >= 16_000:
        # A voice that fills a wide band is mildly reassuring: speech synthesis rarely
        # produces content above 12 kHz.
        return Cue(
            nyquist, 0.25, f"the sound reaches up to the file's limit of {nyquist / 1000:.0f} kHz"
        )
    # The file's own sample rate is the limit: the cue cannot tell anything here.
    return Cue(None, None, f"the file's {decoded.rate} Hz rate limits the bandwidth itself")


def _noise_floor_cue(levels: Signal, active: npt.NDArray[np.bool_]) -> Cue:
    """Digital silence between words, and pause noise that jumps from pause to pause.

    A microphone always hears its room, at a level that changes slowly; synthesis and
    splicing leave pure zeros, or pauses whose noise level differs sentence by sentence.
    """
    span = np.flatnonzero(active)
    inside, speaking = levels[span[0] : span[-1] + 1], active[span[0] : span[-1] + 1]
    digital = float(np.mean(inside < DIGITAL_SILENCE_DBFS))
    floors = []
    for block, talk in zip(
        np.array_split(inside, max(1, inside.size // 100)),
        np.array_split(speaking, max(1, inside.size // 100)),
        strict=True,
    ):
        pause = block[~talk & (block > DIGITAL_SILENCE_DBFS)]
        if pause.size >= 10:  # at least 100 ms of pause in this second
            floors.append(float(np.median(pause)))
    spread = float(np.std(floors)) if len(floors) >= 3 else None
    gated = 1.0 - math.exp(-digital / 0.01)
    jumpy = 0.0 if spread is None else _logistic((spread - 8.0) / 1.5)
    score = 1.0 - (1.0 - gated) * (1.0 - jumpy)
    if digital > 0.002:
        says = f"{digital:.1%} of the time between the first and last word is pure digital silence"
    elif jumpy > 0.5:
        says = f"the background noise level jumps between pauses (spread {spread:.1f} dB)"
    else:
        says = "the background noise stays at a steady, natural level between words"
    return Cue(digital, score, says)


def _phase_regularity(spectra: Complex, voiced: npt.NDArray[np.bool_]) -> float | None:
    """How regularly phase advances at the strongest harmonics of voiced frames.

    For each strong bin, the third difference of phase over time is ~0 for a partial
    that is steady or glides smoothly (the second difference would still carry the
    glide); a human voice's jitter spreads it. Returns the mean resultant length of
    that difference as a unit phasor (1: perfectly regular).
    """
    count = min(len(spectra), voiced.size)
    picks = np.flatnonzero(voiced[1 : count - 2]) + 1
    if picks.size < 20:
        return None
    magnitude = np.abs(spectra[picks, 5:200])
    strongest = np.argsort(magnitude, axis=1)[:, -8:] + 5
    phase = np.angle(spectra)
    rows = picks[:, None]
    jerk = (
        phase[rows + 2, strongest]
        - 3 * phase[rows + 1, strongest]
        + 3 * phase[rows, strongest]
        - phase[rows - 1, strongest]
    )
    return float(np.abs(np.mean(np.exp(1j * jerk))))


def _flatness(spectra: Complex, active: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """Mean and spread over speaking frames of log10 spectral flatness, 250-7500 Hz."""
    power = np.abs(spectra[: active.size]) ** 2 + 1e-12
    freqs = np.fft.rfftfreq(STFT_SIZE, 1.0 / RATE)
    band = power[active[: len(power)]][:, (freqs > 250) & (freqs < 7500)]
    flatness = np.log10(np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1))
    return float(np.mean(flatness)), float(np.std(flatness))


def _cue(value: float | None, point: float, width: float, synthetic: str, natural: str) -> Cue:
    """A cue whose suspicion rises as `value` falls below `point` (above it, for a
    negative `width`), along a logistic curve `width` wide."""
    if value is None:
        return Cue(None, None, natural)
    score = _logistic((point - value) / width)
    return Cue(value, score, synthetic if score >= 0.5 else natural)


@dataclass(frozen=True)
class Speech:
    """Where a 16 kHz recording holds speech, frame by frame (HOP apart)."""

    levels: Signal  # dBFS per frame
    active: npt.NDArray[np.bool_]  # louder than the floor, within 35 dB of the peak
    voiced: npt.NDArray[np.bool_]  # active and periodic (a pitch was found)
    periods: Signal  # pitch period in samples per frame
    facts: dict[str, Any]
    reason: str  # why there is no speech to judge; empty when there is


def find_speech(speech: Signal) -> Speech:
    """The recording's speech, or the reason it has none to judge (too short, silent,
    unvoiced, or music and steady tones)."""
    facts: dict[str, Any] = {"analysed_seconds": round(speech.size / RATE, 2)}
    none = np.zeros(0, dtype=bool)
    if speech.size < RATE // 2:
        reason = "The audio is shorter than half a second, too short to judge."
        return Speech(np.zeros(0), none, none, np.zeros(0), facts, reason)
    levels = _levels_db(speech)
    peak = float(np.percentile(levels, 99))
    facts["peak_dbfs"] = round(peak, 1)
    if peak < SILENT_DBFS:
        reason = "The audio is silent, so there is no voice to check."
        return Speech(levels, none, none, np.zeros(0), facts, reason)
    active = (levels > peak - 35.0) & (levels > SILENT_DBFS)
    periods, aperiodicity = _pitch(speech, levels.size)
    voiced = active & (aperiodicity < 0.2)
    voiced_seconds = float(voiced.sum() * HOP / RATE)
    facts["voiced_seconds"] = round(voiced_seconds, 2)
    found = Speech(levels, active, voiced, periods, facts, "")
    if voiced_seconds < MIN_VOICED_SECONDS:
        reason = "No speech was found in the audio, so voice checks did not apply."
        return Speech(levels, active, voiced, periods, facts, reason)
    semitones = 12 * np.log2(RATE / periods)
    steady = np.zeros(voiced.size, dtype=bool)
    steady[1:] = voiced[1:] & voiced[:-1] & (np.abs(np.diff(semitones)) < 0.05)
    held = sum(end - start for start, end in _runs(steady) if end - start >= 10)
    plateau = held / max(int(voiced.sum()), 1)
    facts["held_pitch_fraction"] = round(plateau, 3)
    if plateau > MUSIC_PLATEAU_FRACTION:
        reason = "The audio sounds like music or steady tones, not speech."
        return Speech(levels, active, voiced, periods, facts, reason)
    return found


def measure_cues(decoded: DecodedAudio) -> tuple[dict[str, Cue] | None, str, dict[str, Any]]:
    """Every cue of the file, or None and the reason when it holds no speech to judge."""
    speech = to_rate(decoded.samples, decoded.rate)
    found = find_speech(speech)
    facts = found.facts
    if found.reason:
        return None, found.reason, facts
    levels, active, voiced, periods = found.levels, found.active, found.voiced, found.periods
    semitones = 12 * np.log2(RATE / periods)

    jitter = _jitter(periods, voiced)
    shimmer = _shimmer(speech, periods, voiced)
    spectra = np.fft.rfft(_frames(speech, STFT_SIZE) * np.hanning(STFT_SIZE), axis=1)
    phase = _phase_regularity(spectra, voiced)
    flat_mean, flat_spread = _flatness(spectra, active)
    facts["flatness_spread"] = round(flat_spread, 3)
    facts["pitch_range_semitones"] = round(float(np.std(semitones[voiced])), 2)
    measured = {
        "spectral_flatness": flat_mean,
        "pitch_jitter": None if jitter is None else jitter * 100,
        "shimmer": shimmer,
        "phase_regularity": phase,
    }
    cues = {"noise_floor": _noise_floor_cue(levels, active), "bandwidth": _bandwidth_cue(decoded)}
    cues.update({name: _cue(value, *CURVES[name]) for name, value in measured.items()})
    return cues, "", facts


def vote_weight(name: str) -> float:
    """How much a cue counts in `combine`: its drawn weight, or 0 for those measured the
    other way (`MEASURED_THE_OTHER_WAY`), which are shown with their values but do not vote:
    their curves would count a modern synthetic voice's wobble as natural."""
    return 0.0 if name in MEASURED_THE_OTHER_WAY else CUE_WEIGHTS[name]


def combine(cues: dict[str, Cue]) -> float | None:
    """The cues' vote, weighted by `vote_weight`; None when no voting cue could be read."""
    measured = [
        (vote_weight(name), cue.score) for name, cue in cues.items() if cue.score is not None
    ]
    total = sum(weight for weight, _ in measured)
    if total == 0:
        return None
    return sum(weight * score for weight, score in measured) / total


def _summary(score: float, cues: dict[str, Cue]) -> str:
    synthetic = score >= 0.5
    sided = [
        cue
        for name, cue in cues.items()
        if cue.score is not None
        and (cue.score >= 0.5) == synthetic
        and name not in MEASURED_THE_OTHER_WAY
    ]
    sided.sort(key=lambda cue: -abs((cue.score or 0.0) - 0.5))
    lead = (
        "The voice shows traces of synthesis"
        if synthetic
        else "The voice sounds recorded, not synthesised"
    )
    reasons = "; ".join(cue.says for cue in sided[:2])
    return f"{lead}: {reasons}." if reasons else f"{lead}."


# A dark-to-bright "inferno"-like ramp: quiet is dark, loud is bright, readable in print.
_COLOURS = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]],  # noqa: E501
    dtype=np.float64,
)  # fmt: skip


def render_spectrogram(decoded: DecodedAudio, cutoff: float | None) -> bytes:
    """A PNG of the native-rate spectrogram, with the detected band edge marked."""
    size = 1024 if decoded.rate > 24_000 else 512
    hop = max(size // 2, decoded.samples.size // 1200 or 1)  # at most ~1200 columns
    signal = decoded.samples
    if signal.size < size:
        signal = np.pad(signal, (0, size - signal.size))
    frames = sliding_window_view(signal, size)[::hop]
    db = 10 * np.log10(np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2 + 1e-12)
    db = np.clip((db - (db.max() - 90.0)) / 90.0, 0.0, 1.0).T[::-1]
    position = db * (len(_COLOURS) - 1)
    low = np.floor(position).astype(int).clip(0, len(_COLOURS) - 2)
    fraction = (position - low)[..., None]
    rgb = _COLOURS[low] * (1 - fraction) + _COLOURS[low + 1] * fraction
    height = 256
    image = Image.fromarray(rgb.astype(np.uint8)).resize((max(200, rgb.shape[1]), height))
    draw = ImageDraw.Draw(image)
    nyquist = decoded.rate / 2
    for khz in range(0, int(nyquist // 1000) + 1, 2 if nyquist <= 12_000 else 4):
        y = height - 1 - int(khz * 1000 / nyquist * (height - 1))
        draw.line([(0, y), (6, y)], fill=(255, 255, 255))
        draw.text((8, max(0, y - 10)), f"{khz} kHz", fill=(255, 255, 255))
    if cutoff is not None:
        y = height - 1 - int(cutoff / nyquist * (height - 1))
        for x in range(0, image.width, 12):
            draw.line([(x, y), (x + 6, y)], fill=(0, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class AudioAnalyzer(Analyzer):
    name: ClassVar[str] = "audio"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.AUDIO})

    def __init__(self, *, max_seconds: float = 60.0) -> None:
        self.max_seconds = max_seconds

    def analyze(self, sample: MediaSample) -> Report:
        decoded = decode_audio(sample.path, max_seconds=self.max_seconds)
        metadata: dict[str, Any] = {
            "codec": decoded.codec,
            "sampleRate": decoded.native_rate,
            "channels": decoded.channels,
        }
        if decoded.duration is not None:
            metadata["duration"] = round(decoded.duration, 3)
        cues, reason, facts = measure_cues(decoded)
        details: dict[str, Any] = {**facts, "native_rate": decoded.native_rate}
        report = Report(self.name, metadata=metadata)
        score = combine(cues) if cues else None
        if cues is None or score is None:
            report.findings.append(Finding("audio_synthetic", None, 0.0, reason, details))
            return report
        details["cues"] = {
            name: {
                "value": None if cue.value is None else round(cue.value, 4),
                "score": None if cue.score is None else round(cue.score, 3),
                "weight": vote_weight(name),
                "says": cue.says,
            }
            for name, cue in cues.items()
        }
        voiced = float(facts["voiced_seconds"])
        weight = FINDING_WEIGHT * min(1.0, voiced / FULL_WEIGHT_VOICED_SECONDS)
        report.findings.append(
            Finding(
                "audio_synthetic", round(score, 4), round(weight, 3), _summary(score, cues), details
            )
        )
        band = cues["bandwidth"]
        cutoff = band.value if band.value is not None and band.value < decoded.rate / 2 else None
        report.evidence.append(
            EvidenceImage(
                "spectrogram",
                render_spectrogram(decoded, cutoff),
                f"Spectrogram of the first {facts['analysed_seconds']:.0f} s, 0 to "
                f"{decoded.rate / 2000:.1f} kHz"
                + (
                    f"; the dashed line marks where the sound stops ({cutoff / 1000:.1f} kHz)"
                    if cutoff
                    else ""
                ),
            )
        )
        return report
