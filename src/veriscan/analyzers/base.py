"""The one interface every media analyzer implements, and what it reports.

An analyzer implements `analyze(sample) -> Report` (blocking; it runs on a worker thread)
and declares the media kinds it accepts. The base class owns the timeout, the timing and
the error capture (`run`). Scores are computed from the media's own bytes: a finding's
`score` is the analyzer's estimate, between 0 and 1, that the media is synthetic or
manipulated, and `None` when the signal could not be measured on this file.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from veriscan.core.pools import refused_by_a_stopping_pool

if TYPE_CHECKING:
    from veriscan.analyzers.frames import SharedFrames

logger = logging.getLogger("veriscan.analyzers")

# Bounds on what one file may make an analyzer allocate, whatever its headers declare.
# Still images have Pillow's own bound, PIL.Image.MAX_IMAGE_PIXELS.
#: The largest picture FFmpeg may decode (video frames, cover art): 8192x8192, above 8K and
#: 360-degree video. FFmpeg checks it before allocating, so a small file declaring
#: gigapixel frames costs nothing.
MAX_FRAME_PIXELS = 8192 * 8192
#: The highest audio sample rate accepted: 768 kHz, the top of any PCM recorder or DAC.
#: Resampling from absurd rates makes filters that grow with the rate ratio.
MAX_SAMPLE_RATE = 768_000
#: For every `av.open`: the decoders FFmpeg opens while probing a file get the frame bound.
AV_OPTIONS = {"max_pixels": str(MAX_FRAME_PIXELS)}


class MediaKind(enum.StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"


class Decision(enum.StrEnum):
    """What a finding establishes about the file from its own record, whatever the pixels
    or samples look like (see fusion for what each does to the verdict)."""

    GENERATED = "generated"  # declared AI-generated (C2PA, XMP, generator metadata)
    MANIPULATED = "manipulated"  # changed after signing: Content Credentials no longer match
    CAPTURED = "captured"  # intact Content Credentials of a trusted signer declaring a capture


@dataclass(frozen=True)
class MediaSample:
    path: Path
    kind: MediaKind
    mime_type: str
    size: int
    sha256: str
    #: A video's decoding pass shared by the analyzers that sample its frames (set by the
    #: pipeline when more than one does; see `frames.frames_of`).
    frames: SharedFrames | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Finding:
    """One piece of evidence, in words a reader understands."""

    signal: str  # stable id: "ela", "gan_fingerprint", "noise_residual", "faces", "c2pa", ...
    score: float | None  # 0..1 suspicion; None: not measurable on this file
    weight: float  # how much the fusion trusts this signal (0..1)
    summary: str  # plain words: "Error levels are uniform across the image"
    details: dict[str, Any] = field(default_factory=dict)
    decision: Decision | None = None
    #: The score is a probability, calibrated on held-out media for this kind of file (a
    #: learned detector): fusion reads it as P(synthetic or manipulated).
    calibrated: bool = False
    #: Evidence of a stated strength (provenance): multiplies the odds that the file is
    #: synthetic or manipulated; below 1 is evidence of authenticity.
    odds: float | None = None
    #: A calibrated detector's held-out ROC AUC, from its training (None: not recorded).
    #: Fusion reads a detector under `fusion.WEAK_DETECTOR_AUC` as weak.
    measured_auc: float | None = None


@dataclass(frozen=True)
class EvidenceImage:
    name: str  # "ela-heatmap", "faces", "spectrum", ...
    png: bytes
    caption: str


@dataclass
class Report:
    analyzer: str
    findings: list[Finding] = field(default_factory=list)
    # Facts, not judgements: codec, bitrate, resolution, duration, fps, gps, generator...
    metadata: dict[str, Any] = field(default_factory=dict)
    evidence: list[EvidenceImage] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


class AnalyzerFailed(Exception):
    """The analyzer cannot read this file (corrupt, truncated, unsupported)."""


class Analyzer(ABC):
    #: Stable name, used in reports and logs.
    name: ClassVar[str]
    #: The media kinds this analyzer accepts.
    kinds: ClassVar[frozenset[MediaKind]]
    #: Seconds one analysis may take before it is reported as timed out.
    timeout: float = 60.0
    #: How many evenly spaced frames of a video it reads (`frames.frames_of`); the pipeline
    #: decodes a video once for every analyzer that reads some.
    frame_samples: ClassVar[int] = 0

    def accepts(self, sample: MediaSample) -> bool:
        return sample.kind in self.kinds

    @abstractmethod
    def analyze(self, sample: MediaSample) -> Report:
        """Analyse one file (blocking). Raise AnalyzerFailed when it cannot be read."""

    async def run(self, sample: MediaSample) -> Report:
        started = time.monotonic()
        try:
            report = await asyncio.wait_for(asyncio.to_thread(self.analyze, sample), self.timeout)
        except TimeoutError:
            logger.warning("analyzers.timeout analyzer=%s sha256=%s", self.name, sample.sha256)
            report = Report(self.name, error=f"{self.name} took longer than {self.timeout:.0f} s")
        except AnalyzerFailed as exc:
            report = Report(self.name, error=without_path(str(exc), sample.path))
        except Exception as exc:  # an analyzer bug must not take the scan down
            if refused_by_a_stopping_pool(exc):
                # The process is stopping: the runner leaves the scan to its lease.
                logger.warning(
                    "analyzers.refused analyzer=%s sha256=%s reason=%s",
                    self.name,
                    sample.sha256,
                    exc,
                )
            else:
                logger.exception(
                    "analyzers.crashed analyzer=%s sha256=%s", self.name, sample.sha256
                )
            report = Report(self.name, error=f"{self.name} failed ({type(exc).__name__})")
        report.seconds = time.monotonic() - started
        return report


def without_path(message: str, path: Path) -> str:
    """An error's words without the file's path, which decoders add ("... input:
    '/srv/veriscan/blobs/ab/cd...'"): users read the reason, and the path says where the
    blob store is."""
    for form in (str(path), path.name):
        message = message.replace(f"'{form}'", "the file").replace(form, "the file")
    return message
