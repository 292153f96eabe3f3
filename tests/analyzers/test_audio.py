"""AudioAnalyzer on speech-like signals made here with numpy, with known answers.

A "recorded" voice: glottal pulses whose every period and amplitude wobble (jitter,
shimmer), shaped by vowel formants, fricative noise, and a room's noise floor that
never stops, at a full 44.1 kHz bandwidth. A "vocoded" voice: the same syllables and
intonation rendered as perfectly regular harmonics at 16 kHz (so nothing above 8 kHz)
and upsampled, with pure digital silence between syllables, as text-to-speech leaves it.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from PIL import Image
from scipy.signal import butter, lfilter, resample_poly, sosfilt

from veriscan.analyzers.audio import (
    CUE_WEIGHTS,
    CURVES,
    MEASURED_THE_OTHER_WAY,
    AudioAnalyzer,
    Cue,
    combine,
    decode_audio,
)
from veriscan.analyzers.base import AnalyzerFailed, MediaKind, MediaSample

RATE = 44_100
VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]


def _syllables(seed: int, seconds: float) -> list[tuple[str, float, float, float, int]]:
    """(kind, start s, length s, start-to-end pitch glide in semitones, vowel) in order."""
    rng = np.random.default_rng(seed)
    plan, t = [], 0.3
    while t < seconds - 0.5:
        if rng.random() < 0.3:
            length = float(rng.uniform(0.06, 0.1))
            plan.append(("fricative", t, length, 0.0, 0))
            t += length
        length = float(rng.uniform(0.15, 0.25))
        glide = float(rng.choice([-1, 1]) * rng.uniform(3.0, 5.0))
        plan.append(("voiced", t, length, glide, int(rng.integers(len(VOWELS)))))
        t += length + float(rng.uniform(0.08, 0.3))
    return plan


def _formants(signal: np.ndarray, vowel: int, rate: int) -> np.ndarray:
    out = np.zeros_like(signal)
    for centre in VOWELS[vowel]:
        radius = np.exp(-np.pi * 90 / rate)
        theta = 2 * np.pi * centre / rate
        out += lfilter([1 - radius], [1, -2 * radius * np.cos(theta), radius**2], signal)
    return out


def recorded_voice(seed: int = 1, seconds: float = 6.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    audio = np.zeros(int(seconds * RATE))
    for kind, start, length, glide, vowel in _syllables(seed, seconds):
        first, count = int(start * RATE), int(length * RATE)
        if kind == "fricative":
            noise = sosfilt(butter(4, 3000, "high", fs=RATE, output="sos"), rng.normal(size=count))
            audio[first : first + count] += 0.05 * noise * np.hanning(count)
            continue
        pulses = np.zeros(count)
        position = 0.0
        base = 110 * 2 ** (rng.uniform(-2, 2) / 12)
        while position < count:
            progress = position / count
            f0 = base * 2 ** (glide * progress / 12)
            pulses[int(position)] = 2 ** (rng.normal(0, 0.6) / 6)  # shimmer, ~0.6 dB
            position += RATE / f0 * (1 + rng.normal(0, 0.012))  # jitter, ~1.2 %
        glottal = lfilter([1.0], [1, -0.96], pulses)  # spectral tilt of the glottal wave
        audio[first : first + count] += 0.3 * _formants(glottal, vowel, RATE) * np.hanning(count)
    room = sosfilt(butter(1, 2000, "low", fs=RATE, output="sos"), rng.normal(size=audio.size))
    audio += 10 ** (-50 / 20) * room / np.std(room) + 10 ** (-62 / 20) * rng.normal(size=audio.size)
    return 0.5 * audio / np.max(np.abs(audio))


def vocoded_voice(seed: int = 1, seconds: float = 6.0) -> np.ndarray:
    rate = 16_000
    audio = np.zeros(int(seconds * rate))
    rng = np.random.default_rng(seed)
    for kind, start, length, glide, vowel in _syllables(seed, seconds):
        if kind == "fricative":
            continue  # the vocoder renders only the harmonic part
        first, count = int(start * rate), int(length * rate)
        t = np.arange(count) / rate
        base = 110 * 2 ** (rng.uniform(-2, 2) / 12)
        f0 = base * 2 ** (glide * t / length / 12)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        tone = np.zeros(count)
        for harmonic in range(1, int(7800 / f0.min())):
            gain = 0.3 + sum(1 / (1 + ((harmonic * base - c) / 120) ** 2) for c in VOWELS[vowel])
            audible = harmonic * f0 < 7800  # a harmonic exists while under the band edge
            tone += audible * gain / np.sqrt(harmonic) * np.sin(harmonic * phase)
        audio[first : first + count] += tone * np.hanning(count)
    wide = resample_poly(audio, 441, 160)
    return 0.5 * wide / np.max(np.abs(wide))


def _sample(path: Path) -> MediaSample:
    return MediaSample(path, MediaKind.AUDIO, "audio/wav", path.stat().st_size, "0" * 64)


def _wav(tmp_path: Path, name: str, audio: np.ndarray, rate: int = RATE) -> Path:
    path = tmp_path / name
    soundfile.write(path, audio, rate, subtype="PCM_16")
    return path


def _encode(tmp_path: Path, name: str, audio: np.ndarray, codec: str, rate: int = RATE) -> Path:
    path = tmp_path / name
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = 160_000
        frame_format = stream.codec_context.format.name
        pcm = (audio * 32767).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=frame_format, layout="mono", rate=rate)
        for converted in resampler.resample(frame):
            for packet in stream.encode(converted):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _finding(path: Path) -> tuple[float | None, dict[str, object], str]:
    report = AudioAnalyzer().analyze(_sample(path))
    [finding] = report.findings
    assert finding.signal == "audio_synthetic"
    return finding.score, finding.details, finding.summary


def test_recorded_voice_reads_as_natural_and_vocoded_as_synthetic(tmp_path: Path) -> None:
    natural, natural_details, natural_summary = _finding(_wav(tmp_path, "a.wav", recorded_voice()))
    synthetic, synthetic_details, synthetic_summary = _finding(
        _wav(tmp_path, "b.wav", vocoded_voice())
    )
    assert natural is not None and synthetic is not None
    assert natural < 0.25, natural_details
    # Three of the six cues (MEASURED_THE_OTHER_WAY) do not vote: what is left (digital
    # silence, the band edge, spectral flatness) puts the vocoded voice at 0.75.
    assert synthetic > 0.7, synthetic_details
    assert natural_summary.startswith("The voice sounds recorded")
    assert synthetic_summary.startswith("The voice shows traces of synthesis")
    # Cues the speech training set measures the other way are never given as reasons.
    for name in MEASURED_THE_OTHER_WAY:
        _point, _width, says_synthetic, says_natural = CURVES[name]
        assert says_natural not in natural_summary
        assert says_synthetic not in synthetic_summary
    # Every cue is reported with its value, its own score and the weight of its vote.
    cues = synthetic_details["cues"]
    assert isinstance(cues, dict) and set(cues) == set(CUE_WEIGHTS)
    for name, cue in cues.items():
        voting = name not in MEASURED_THE_OTHER_WAY
        assert cue["weight"] == (CUE_WEIGHTS[name] if voting else 0.0)
    # Harmonics end at 7.8 kHz; the upsampling filter's slope reaches a little beyond.
    assert cues["bandwidth"]["value"] == pytest.approx(8000, abs=500)
    assert cues["noise_floor"]["score"] > 0.9  # digital silence between syllables
    assert natural_details["cues"]["noise_floor"]["score"] < 0.1  # type: ignore[index]


def test_cues_measured_the_other_way_do_not_vote() -> None:
    """Their curves point the other way from what the speech training set measures, so
    the fallback vote leaves them out whatever they read; the others vote by weight."""
    assert {"pitch_jitter", "shimmer", "phase_regularity"} == MEASURED_THE_OTHER_WAY
    voting = {
        "noise_floor": Cue(1.0, 0.9, ""),
        "bandwidth": Cue(8000.0, 0.6, ""),
        "spectral_flatness": Cue(0.2, 0.3, ""),
    }
    weights = CUE_WEIGHTS
    expected = (
        weights["noise_floor"] * 0.9
        + weights["bandwidth"] * 0.6
        + weights["spectral_flatness"] * 0.3
    ) / (weights["noise_floor"] + weights["bandwidth"] + weights["spectral_flatness"])
    for backward in (0.0, 1.0):
        cues = dict(voting)
        cues.update({name: Cue(1.0, backward, "") for name in MEASURED_THE_OTHER_WAY})
        assert combine(cues) == pytest.approx(expected)
    assert combine({name: Cue(1.0, 1.0, "") for name in MEASURED_THE_OTHER_WAY}) is None


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_separation_holds_for_other_utterances(tmp_path: Path, seed: int) -> None:
    natural, _, _ = _finding(_wav(tmp_path, "a.wav", recorded_voice(seed)))
    synthetic, _, _ = _finding(_wav(tmp_path, "b.wav", vocoded_voice(seed)))
    assert natural is not None and synthetic is not None
    assert synthetic - natural > 0.5


@pytest.mark.parametrize(("codec", "suffix"), [("mp3", ".mp3"), ("libopus", ".ogg")])
def test_compressed_files_decode_and_keep_their_reading(
    tmp_path: Path, codec: str, suffix: str
) -> None:
    rate = 48_000 if codec == "libopus" else RATE
    natural_audio, synthetic_audio = recorded_voice(), vocoded_voice()
    if rate != RATE:
        natural_audio = resample_poly(natural_audio, 160, 147)
        synthetic_audio = resample_poly(synthetic_audio, 160, 147)
    natural, _, _ = _finding(_encode(tmp_path, "a" + suffix, natural_audio, codec, rate))
    synthetic, _, _ = _finding(_encode(tmp_path, "b" + suffix, synthetic_audio, codec, rate))
    assert natural is not None and synthetic is not None
    assert natural < 0.35
    # Opus at 48 kHz hides the band edge: the vocoded voice then reads 0.50 against the
    # recorded one's 0.02 (0.75 against 0.19 in MP3); the digital silence between words
    # still tells them apart, but the fallback alone is no longer sure of it.
    assert synthetic > (0.45 if codec == "libopus" else 0.6)
    assert synthetic - natural > 0.3


def test_report_carries_a_spectrogram_and_stream_facts(tmp_path: Path) -> None:
    report = AudioAnalyzer().analyze(_sample(_wav(tmp_path, "b.wav", vocoded_voice())))
    [evidence] = report.evidence
    assert evidence.name == "spectrogram"
    image = Image.open(io.BytesIO(evidence.png))
    assert image.format == "PNG" and image.height == 256 and image.width >= 200
    assert re.fullmatch(
        r"Spectrogram of the first 6 s, 0 to 22\.1 kHz; "
        r"the dashed line marks where the sound stops \([78]\.\d kHz\)",
        evidence.caption,
    )
    assert report.metadata == {
        "codec": "pcm_s16le",
        "sampleRate": RATE,
        "channels": 1,
        "duration": 6.0,
    }


def test_silence_has_no_score(tmp_path: Path) -> None:
    score, details, summary = _finding(_wav(tmp_path, "s.wav", np.zeros(RATE * 3)))
    assert score is None
    assert summary == "The audio is silent, so there is no voice to check."
    assert "cues" not in details


def test_noise_and_music_are_not_speech(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    noise, _, noise_summary = _finding(_wav(tmp_path, "n.wav", 0.1 * rng.normal(size=RATE * 3)))
    assert noise is None
    assert noise_summary == "No speech was found in the audio, so voice checks did not apply."
    t = np.arange(RATE * 4) / RATE
    notes = 220 * 2 ** (np.floor(t * 2) * 2 / 12)  # a scale of held half-second notes
    melody = 0.3 * np.sin(2 * np.pi * np.cumsum(notes) / RATE)
    music, _, music_summary = _finding(_wav(tmp_path, "m.wav", melody))
    assert music is None
    assert music_summary == "The audio sounds like music or steady tones, not speech."


def test_only_the_first_minute_is_decoded(tmp_path: Path) -> None:
    long = np.tile(recorded_voice(seconds=6.0), 12)  # 72 s
    path = _wav(tmp_path, "long.wav", long)
    decoded = decode_audio(path, max_seconds=60.0)
    assert decoded.samples.size == 60 * RATE
    assert decoded.duration == pytest.approx(72.0)
    _, details, _ = _finding(path)
    assert details["analysed_seconds"] == 60.0


def test_corrupt_and_truncated_files(tmp_path: Path) -> None:
    garbage = tmp_path / "x.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 20)
    with pytest.raises(AnalyzerFailed):
        AudioAnalyzer().analyze(_sample(garbage))
    empty = tmp_path / "e.mp3"
    empty.write_bytes(b"")
    with pytest.raises(AnalyzerFailed):
        AudioAnalyzer().analyze(_sample(empty))
    # Through the base class, a corrupt file becomes a report with an error, not a crash.
    report = asyncio.run(AudioAnalyzer().run(_sample(garbage)))
    assert report.error and not report.findings
    # A file cut short still has a readable beginning, which is judged.
    whole = _encode(tmp_path, "v.mp3", vocoded_voice(seconds=10.0), "mp3").read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole[: len(whole) // 2])
    score, details, _ = _finding(cut)
    assert score is not None and details["analysed_seconds"] == pytest.approx(5.0, abs=0.2)
