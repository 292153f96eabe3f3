"""Measure detection quality on a labelled folder (`veriscan eval DIR --labels FILE`).

The labels file is a CSV with at least the columns `file` (relative to DIR), `modality`
(image, video, audio, or metadata for metadata-only pictures) and `label` (real,
generated or manipulated), as in the media-eval set's manifest.csv. Each file is copied
to a neutral name in a temporary folder before analysis, because the folder and file
names of such sets carry the label.

A verdict other than AUTHENTIC counts as a detection (SUSPICIOUS included); a file with
no verdict (nothing measurable) counts as not detected. ROC AUC is computed from the
risk scores by ranks (Mann-Whitney U, ties counted half), over the files that have one.
"""

from __future__ import annotations

import asyncio
import csv
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veriscan.analyzers.base import Analyzer, Decision, MediaKind, MediaSample
from veriscan.analyzers.fusion import Thresholds, Verdict
from veriscan.analyzers.pipeline import analyze_media
from veriscan.core.sniff import mime_type_of

LABELS = ("real", "generated", "manipulated")
POSITIVE_LABELS = frozenset({"generated", "manipulated"})
KINDS = {
    "image": MediaKind.IMAGE,
    "metadata": MediaKind.IMAGE,
    "video": MediaKind.VIDEO,
    "audio": MediaKind.AUDIO,
}
NO_VERDICT = "none"
ALL = "all"


class LabelsError(ValueError):
    """The labels file cannot be used (missing columns, unknown labels or modalities)."""


@dataclass(frozen=True)
class LabelledFile:
    file: str
    modality: str
    label: str

    @property
    def positive(self) -> bool:
        return self.label in POSITIVE_LABELS


@dataclass(frozen=True)
class FileResult:
    file: str
    modality: str
    label: str
    verdict: str | None
    risk_score: int | None
    confidence: int | None
    error: str | None = None  # the file could not be evaluated at all (missing, unreadable)
    seconds: float = 0.0
    decisive: str | None = None  # the signal that settled or bounded the verdict
    tampered: bool = False  # Content Credentials that fail validation

    @property
    def detected(self) -> bool:
        return self.verdict in (Verdict.DEEPFAKE, Verdict.SUSPICIOUS)

    @property
    def right(self) -> bool | None:
        """Whether the verdict is right: a detection of a generated or manipulated file, or
        AUTHENTIC for a real one. None without a verdict."""
        if self.verdict is None or self.error:
            return None
        return self.detected == (self.label in POSITIVE_LABELS)


@dataclass(frozen=True)
class Confusion:
    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int
    # label -> verdict (or "none") -> count: what each kind of file was called.
    by_label: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModalityMetrics:
    modality: str
    files: int  # evaluated (errors excluded)
    positives: int
    negatives: int
    accuracy: float | None
    auc: float | None  # None when one class is absent among the scored files
    confusion: Confusion
    unscored: int  # evaluated but with no risk score (left out of the AUC)
    errors: int
    # Generated or manipulated files called AUTHENTIC with confidence above 80.
    false_authentic_above_80: int = 0
    # Real files called DEEPFAKE because of Content Credentials that fail validation.
    real_deepfake_from_manifest: int = 0
    # (confidence bin, files, mean confidence, share right) of the files with a verdict.
    reliability: list[tuple[str, int, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Evaluation:
    thresholds: Thresholds
    metrics: dict[str, ModalityMetrics]  # per modality, then "all"
    files: list[FileResult]


def read_labels(path: Path) -> list[LabelledFile]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "modality", "label"} - set(reader.fieldnames or [])
        if missing:
            raise LabelsError(f"{path.name} lacks the column(s) {', '.join(sorted(missing))}")
        rows = []
        for number, row in enumerate(reader, start=2):
            label, modality = row["label"].strip().lower(), row["modality"].strip().lower()
            if label not in LABELS:
                raise LabelsError(f"{path.name} line {number}: unknown label {row['label']!r}")
            if modality not in KINDS:
                raise LabelsError(
                    f"{path.name} line {number}: unknown modality {row['modality']!r}"
                )
            rows.append(LabelledFile(row["file"].strip(), modality, label))
    return rows


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Area under the ROC curve from ranks; None unless both classes are present."""
    values = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(positive, dtype=bool)
    count_pos, count_neg = int(labels.sum()), int((~labels).sum())
    if count_pos == 0 or count_neg == 0:
        return None
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(1, values.size + 1)
    for value in np.unique(values):  # tied scores share their average rank
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    u = ranks[labels].sum() - count_pos * (count_pos + 1) / 2
    return float(u / (count_pos * count_neg))


def _metrics(modality: str, results: Sequence[FileResult]) -> ModalityMetrics:
    evaluated = [r for r in results if r.error is None]
    positive = [r.label in POSITIVE_LABELS for r in evaluated]
    tp = sum(1 for r, p in zip(evaluated, positive, strict=True) if p and r.detected)
    fp = sum(1 for r, p in zip(evaluated, positive, strict=True) if not p and r.detected)
    fn = sum(1 for r, p in zip(evaluated, positive, strict=True) if p and not r.detected)
    tn = len(evaluated) - tp - fp - fn
    by_label: dict[str, dict[str, int]] = {}
    for result in evaluated:
        row = by_label.setdefault(result.label, {})
        key = result.verdict or NO_VERDICT
        row[key] = row.get(key, 0) + 1
    scored = [r for r in evaluated if r.risk_score is not None]
    auc = roc_auc(
        [float(r.risk_score or 0) for r in scored], [r.label in POSITIVE_LABELS for r in scored]
    )
    return ModalityMetrics(
        modality=modality,
        files=len(evaluated),
        positives=sum(positive),
        negatives=len(evaluated) - sum(positive),
        accuracy=(tp + tn) / len(evaluated) if evaluated else None,
        auc=auc,
        confusion=Confusion(tp, fp, tn, fn, by_label),
        unscored=len(evaluated) - len(scored),
        errors=len(results) - len(evaluated),
        false_authentic_above_80=sum(
            1
            for r in evaluated
            if r.label in POSITIVE_LABELS
            and r.verdict == Verdict.AUTHENTIC
            and (r.confidence or 0) > 80
        ),
        real_deepfake_from_manifest=sum(
            1
            for r in evaluated
            # Counted whatever else judged it: DEEPFAKE with a broken manifest, on a real file.
            if r.label == "real" and r.verdict == Verdict.DEEPFAKE and r.tampered
        ),
        reliability=_reliability(evaluated),
    )


RELIABILITY_BINS = ((0, 50), (50, 60), (60, 70), (70, 80), (80, 90), (90, 101))


def _reliability(results: Sequence[FileResult]) -> list[tuple[str, int, float, float]]:
    """How often verdicts are right at each level of confidence."""
    judged = [r for r in results if r.right is not None and r.confidence is not None]
    rows = []
    for low, high in RELIABILITY_BINS:
        inside = [r for r in judged if low <= (r.confidence or 0) < high]
        if inside:
            mean = sum(r.confidence or 0 for r in inside) / len(inside)
            right = sum(1 for r in inside if r.right) / len(inside)
            label = f"{low}-{min(high, 100)}"
            rows.append((label, len(inside), round(mean, 1), round(right, 3)))
    return rows


async def _evaluate_one(
    directory: Path,
    entry: LabelledFile,
    analyzers: Sequence[Analyzer],
    thresholds: Thresholds,
    soundtrack: Sequence[Analyzer] | None,
    workspace: Path,
) -> FileResult:
    source = directory / entry.file
    started = time.monotonic()
    if not source.is_file():
        return FileResult(entry.file, entry.modality, entry.label, None, None, None, "not found")
    # A neutral name: only the format's usual suffix is kept, which the bytes tell anyway.
    neutral = workspace / f"sample{source.suffix.lower()}"
    try:
        await asyncio.to_thread(shutil.copyfile, source, neutral)
        head = await asyncio.to_thread(_head, neutral)
    except OSError as exc:
        neutral.unlink(missing_ok=True)
        error = f"unreadable ({exc.strerror})"
        return FileResult(entry.file, entry.modality, entry.label, None, None, None, error)
    try:
        sample = MediaSample(
            neutral, KINDS[entry.modality], mime_type_of(head), neutral.stat().st_size, "0" * 64
        )
        analysis = await analyze_media(
            sample, analyzers, thresholds=thresholds, soundtrack=soundtrack
        )
    finally:
        neutral.unlink(missing_ok=True)
    fused = analysis.fused
    return FileResult(
        entry.file,
        entry.modality,
        entry.label,
        None if fused.verdict is None else fused.verdict.value,
        fused.risk_score,
        fused.confidence,
        seconds=round(time.monotonic() - started, 3),
        decisive=fused.decisive,
        tampered=any(
            f.decision is Decision.MANIPULATED for r in analysis.reports for f in r.findings
        ),
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(8192)


async def evaluate_async(
    directory: Path,
    labels_csv: Path,
    *,
    analyzers: Sequence[Analyzer],
    thresholds: Thresholds | None = None,
    soundtrack: Sequence[Analyzer] | None = None,
    modalities: Sequence[str] | None = None,
) -> Evaluation:
    thresholds = thresholds or Thresholds()
    entries = [
        entry
        for entry in read_labels(labels_csv)
        if modalities is None or entry.modality in modalities
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="veriscan-eval-") as folder:
        for entry in entries:  # one file at a time; its analyzers run side by side
            results.append(
                await _evaluate_one(
                    directory, entry, analyzers, thresholds, soundtrack, Path(folder)
                )
            )
    metrics = {
        modality: _metrics(modality, [r for r in results if r.modality == modality])
        for modality in sorted({r.modality for r in results})
    }
    metrics[ALL] = _metrics(ALL, results)
    return Evaluation(thresholds, metrics, results)


def evaluate(
    directory: Path,
    labels_csv: Path,
    *,
    analyzers: Sequence[Analyzer],
    thresholds: Thresholds | None = None,
    soundtrack: Sequence[Analyzer] | None = None,
    modalities: Sequence[str] | None = None,
) -> Evaluation:
    """Blocking entry point for the command line."""
    return asyncio.run(
        evaluate_async(
            directory,
            labels_csv,
            analyzers=analyzers,
            thresholds=thresholds,
            soundtrack=soundtrack,
            modalities=modalities,
        )
    )


def environment(analyzers: Sequence[Analyzer]) -> str:
    """What an evaluation ran on, for its record: the libraries whose numbers reach a
    verdict, the CPU, and the kernels and reference agreement of the CLIP encoder (one
    rerun called every picture generated on a CPU whose integer kernels saturate)."""
    import platform
    from importlib import metadata

    from veriscan.analyzers import models

    names = ("onnxruntime", "numpy", "pillow", "opencv-python-headless", "av", "c2pa-python")
    versions = []
    for name in names:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} missing")
    cpu = models.cpu_info("model name") or platform.processor() or platform.machine()
    if platform.machine().lower() not in models.X86:
        vnni = "not x86"
    else:
        vnni = "no VNNI" if models.saturates() else "VNNI"
    line = f"Ran with Python {platform.python_version()}, {', '.join(versions)}; CPU {cpu} ({vnni})"
    encoders = (getattr(analyzer, "encoder", None) for analyzer in analyzers)
    encoder = next((found for found in encoders if found is not None), None)
    if encoder is None:
        return line + "; CLIP encoder not loaded."
    agreement = "not checked" if encoder.agreement is None else f"{encoder.agreement:.5f}"
    kernels = f"{encoder.kernels} integer kernels"
    return line + f"; CLIP encoder: {kernels}, reference agreement {agreement}."


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render_table(evaluation: Evaluation, *, per_file: bool = True) -> str:
    """Plain text: one row per modality (then all), and optionally one per file."""
    t = evaluation.thresholds
    lines = [
        f"Detection = DEEPFAKE or SUSPICIOUS (risk >= {t.suspicious}; DEEPFAKE >= {t.deepfake}).",
        "",
        f"{'modality':<10} {'files':>5} {'pos':>4} {'neg':>4} {'accuracy':>8} {'AUC':>6} "
        f"{'TP':>4} {'FP':>4} {'TN':>4} {'FN':>4} {'no score':>8} {'errors':>6}",
    ]
    for name, m in evaluation.metrics.items():
        c = m.confusion
        lines.append(
            f"{name:<10} {m.files:>5} {m.positives:>4} {m.negatives:>4} "
            f"{_number(m.accuracy):>8} {_number(m.auc):>6} {c.true_positive:>4} "
            f"{c.false_positive:>4} {c.true_negative:>4} {c.false_negative:>4} "
            f"{m.unscored:>8} {m.errors:>6}"
        )
    lines += [
        "",
        f"{'modality':<10} {'AUTHENTIC>80 of generated/manipulated':>38} "
        f"{'real DEEPFAKE by manifest':>26}",
    ]
    for name, m in evaluation.metrics.items():
        lines.append(
            f"{name:<10} {m.false_authentic_above_80:>38} {m.real_deepfake_from_manifest:>26}"
        )
    lines += ["", "Reliability: how often the verdict is right at each confidence"]
    lines.append(f"{'modality':<10} {'confidence':>10} {'files':>6} {'mean':>6} {'right':>6}")
    for name, m in evaluation.metrics.items():
        for label, count, mean, right in m.reliability:
            lines.append(f"{name:<10} {label:>10} {count:>6} {mean:>6.1f} {right:>6.3f}")
    overall = evaluation.metrics.get(ALL)
    if overall and overall.confusion.by_label:
        verdicts = [v.value for v in Verdict] + [NO_VERDICT]
        lines += ["", f"{'label':<12}" + "".join(f"{v:>12}" for v in verdicts)]
        for label in LABELS:
            row = overall.confusion.by_label.get(label)
            if row:
                lines.append(f"{label:<12}" + "".join(f"{row.get(v, 0):>12}" for v in verdicts))
    if per_file:
        width = max((len(r.file) for r in evaluation.files), default=4)
        lines += ["", f"{'file':<{width}}  {'label':<11} {'verdict':<10} {'risk':>4} {'conf':>4}"]
        for r in evaluation.files:
            risk = "-" if r.risk_score is None else str(r.risk_score)
            confidence = "-" if r.confidence is None else str(r.confidence)
            verdict = "error" if r.error else (r.verdict or NO_VERDICT)
            line = f"{r.file:<{width}}  {r.label:<11} {verdict:<10} {risk:>4} {confidence:>4}"
            lines.append(f"{line}  {r.error}" if r.error else line)
    return "\n".join(lines) + "\n"
