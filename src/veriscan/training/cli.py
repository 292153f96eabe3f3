"""`veriscan models install` and `check`, `veriscan trainset fetch` and `veriscan train image`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from veriscan.training.manifest import Entry

models_app = typer.Typer(no_args_is_help=True, help="The learned models Veriscan runs.")
trainset_app = typer.Typer(no_args_is_help=True, help="Training sets, rebuilt from manifests.")
train_app = typer.Typer(no_args_is_help=True, help="Fit Veriscan's own detectors.")

Manifest = Annotated[
    Path, typer.Option(help="The set's manifest (CSV)", exists=True, dir_okay=False)
]


@models_app.command("install")
def install(
    directory: Annotated[
        Path | None, typer.Option(help="Model folder (default: VERISCAN_MODEL_DIR)")
    ] = None,
) -> None:
    """Install the models that do not ship in the package (checked by sha256)."""
    from veriscan.analyzers import models
    from veriscan.core.config import Settings

    try:
        lines = models.install(directory or Settings().model_dir)
    except models.ModelMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)


@models_app.command("check")
def check(
    directory: Annotated[
        Path | None, typer.Option(help="Model folder (default: VERISCAN_MODEL_DIR)")
    ] = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Record this machine's features as the reference (only after changing "
            "the encoder or its features, on a CPU with VNNI)",
        ),
    ] = False,
) -> None:
    """Check that the CLIP encoder computes on this machine what its probes were fitted on."""
    from veriscan.analyzers import clip, models
    from veriscan.core.config import Settings

    folder = directory or Settings().model_dir
    try:
        if write:
            encoder = clip.ClipEncoder(folder, reference=None, exact=True)
            encoder.write_reference(clip.REFERENCE_FILE)
            typer.echo(f"{models.CLIP_ENCODER.name}: reference written to {clip.REFERENCE_FILE}")
            return
        encoder = clip.ClipEncoder(folder)
    except (models.ModelMissing, clip.EncoderDisagrees) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{models.CLIP_ENCODER.name}: agrees with its reference on this machine "
        f"(correlation {encoder.agreement:.5f}, at least {clip.AGREEMENT} needed; "
        f"{encoder.kernels} integer kernels)"
    )


@trainset_app.command("fetch")
def fetch(
    manifest: Manifest,
    out: Annotated[Path, typer.Option(help="Folder to rebuild the set in")],
    mirrors: Annotated[
        Path | None,
        typer.Option(help="Folder of bare git clones named owner+name (else raw GitHub)"),
    ] = None,
) -> None:
    """Rebuild a training set from its manifest, checking every file's sha256."""
    from veriscan.training import manifest as sets

    entries = sets.read(manifest)
    ready, problems = sets.rebuild(entries, out, mirrors=mirrors, report=typer.echo)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{ready} of {len(entries)} files ready")


@train_app.command("image")
def train_image(
    manifest: Manifest,
    data: Annotated[Path, typer.Option(help="The rebuilt set's folder", exists=True)],
    out: Annotated[Path, typer.Option(help="Where to write the probe (JSON)")],
    faces: Annotated[
        Path | None,
        typer.Option(help="A manifest of files whose face crops join the training", exists=True),
    ] = None,
    faces_data: Annotated[
        Path | None, typer.Option(help="The face set's folder (default: --data)", exists=True)
    ] = None,
    name: Annotated[str, typer.Option(help="The probe's name")] = "image-probe",
    cache: Annotated[
        Path | None, typer.Option(help="Folder to keep embeddings in between runs")
    ] = None,
    copies: Annotated[int, typer.Option(help="Re-encoded versions per file")] = 2,
    folds: Annotated[int, typer.Option(help="Held-out folds (grouped by source)")] = 5,
    # The shipped probe's C: the best held-out AUC on the training set's own folds (on the
    # block features, pictures and faces: C 0.3, 1, 3: 0.864, 0.877, 0.873; see
    # models/image-probe.md for the feature sets tried).
    regularisation: Annotated[float, typer.Option(help="Inverse L2 strength (C)")] = 1.0,
) -> None:
    """Fit the image probe: held-out AUC and calibration by source-grouped folds."""
    from veriscan.training import images
    from veriscan.training import manifest as sets

    entries = sets.read(manifest)
    face_entries = sets.read(faces) if faces else []
    recipe = images.Recipe(copies=copies, folds=folds, regularisation=regularisation)
    probe = images.train(
        entries, data, recipe, name=name, faces=face_entries, faces_data=faces_data,
        cache=cache, report=typer.echo,
    )  # fmt: skip
    _write(out, probe)


@train_app.command("speech")
def train_speech(
    manifest: Annotated[
        list[Path],
        typer.Option(
            help="The set's manifest (CSV); give it more than once to fit on several sets",
            exists=True,
            dir_okay=False,
        ),
    ],
    data: Annotated[Path, typer.Option(help="The rebuilt set's folder", exists=True)],
    out: Annotated[Path, typer.Option(help="Where to write the probe (JSON)")],
    name: Annotated[str, typer.Option(help="The probe's name")] = "speech-probe",
    cache: Annotated[
        Path | None, typer.Option(help="Folder to keep features in between runs")
    ] = None,
    copies: Annotated[
        int, typer.Option(help="Versions per file (2nd: lossy, narrower; 3rd: gated or noisy)")
    ] = 3,
    folds: Annotated[int, typer.Option(help="Held-out folds (grouped by source)")] = 5,
    regularisation: Annotated[float, typer.Option(help="Inverse L2 strength (C)")] = 0.1,
    traits: Annotated[
        bool,
        typer.Option(
            "--traits/--no-traits",
            help="Read the voice's eight traits beside AASIST-L's logit (they carry the "
            "sources' recording conditions: docs/evaluation.md)",
        ),
    ] = False,
    elsewhere: Annotated[
        Path | None,
        typer.Option(
            help="A manifest of recordings from other sources (in --data too): the fitted "
            "probe's AUC on them is recorded and quoted by its explanations",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Fit the speech probe on AASIST-L's spoof logit (and the voice's traits with
    --traits): held-out AUC and calibration."""
    from veriscan.training import images, speech
    from veriscan.training import manifest as sets
    from veriscan.training.elsewhere import shared as in_common

    entries = _combined(manifest)
    others = sets.read(elsewhere) if elsewhere is not None else []
    shared = in_common(others, entries)
    if shared:
        raise typer.BadParameter(
            f"{elsewhere.name if elsewhere else ''} shares sources or files with "
            f"{', '.join(m.name for m in manifest)}: {shared[:3]}",
            param_hint="--elsewhere",
        )
    missing = [e.file for e in others if not (data / e.file).is_file()]
    if missing:  # before the fit, which takes minutes
        raise typer.BadParameter(
            f"{len(missing)} files of {elsewhere.name if elsewhere else ''} are not in "
            f"{data} (e.g. {missing[0]}): fetch them with `veriscan trainset fetch`",
            param_hint="--elsewhere",
        )
    recipe = images.Recipe(copies=copies, folds=folds, regularisation=regularisation)
    probe = speech.train(
        entries, data, recipe, name=name, traits=traits, cache=cache, report=typer.echo
    )
    probe["metrics"]["manifests"] = [m.name for m in manifest]
    if elsewhere is not None:
        metrics = probe["metrics"]
        metrics["elsewhere"] = speech.elsewhere(
            probe, others, data, recipe, cache=cache, report=typer.echo
        )
        metrics["elsewhere"]["manifest"] = elsewhere.name
    _write(out, probe)


@train_app.command("measure-image")
def measure_image(
    manifest: Manifest,
    data: Annotated[Path, typer.Option(help="The rebuilt set's folder", exists=True)],
    probe: Annotated[
        Path,
        typer.Option(
            help="The image probe to measure (JSON); its metrics are updated", exists=True
        ),
    ],
    fitted_on: Annotated[
        list[Path],
        typer.Option(
            help="A manifest the probe was fitted on (give each): the set must share no "
            "source or file with them",
            exists=True,
            dir_okay=False,
        ),
    ],
    model_dir: Annotated[
        Path | None, typer.Option(help="Model folder (default: VERISCAN_MODEL_DIR)")
    ] = None,
) -> None:
    """Measure a fitted image probe on pictures from other sources, as analysis scores them,
    and record the figures in it (`metrics.elsewhere`, quoted by its explanations); its
    weights are not touched."""
    from veriscan.core.config import Settings
    from veriscan.training import elsewhere
    from veriscan.training import manifest as sets

    entries = sets.read(manifest)
    shared = elsewhere.shared(entries, [e for path in fitted_on for e in sets.read(path)])
    if shared:
        raise typer.BadParameter(
            f"{manifest.name} shares sources or files with the probe's sets: {shared[:3]}",
            param_hint="--manifest",
        )
    found = elsewhere.problems(entries, data)
    if found:  # before the scoring, which takes minutes
        raise typer.BadParameter(
            f"{len(found)} problem(s) with {manifest.name}, e.g. {found[0]}", param_hint="--data"
        )
    raw = json.loads(probe.read_text(encoding="utf-8"))
    scores = elsewhere.score_images(
        entries, data, probe, model_dir=model_dir or Settings().model_dir, report=typer.echo
    )
    try:
        figures = elsewhere.figures(entries, scores)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    figures["manifest"] = manifest.name
    raw.setdefault("metrics", {})["elsewhere"] = figures
    written = probe.with_name(probe.name + ".tmp")
    written.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    written.replace(probe)  # all or nothing
    low, high = figures["interval_95"]
    typer.echo(
        f"wrote {probe}: AUC {figures['auc']} (95 % interval {low}-{high}) on "
        f"{sum(figures['files'].values())} pictures from {figures['sources']} sources"
    )


def _combined(manifests: list[Path]) -> list[Entry]:
    """The entries of several manifests as one set; a file (by name or content, and the
    region of it a row is about) in two rows is refused."""
    from veriscan.training import manifest as sets

    entries = [entry for path in manifests for entry in sets.read(path)]
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        keys = {(entry.sha256, entry.region), (entry.file, entry.region)}
        if keys & seen:
            raise typer.BadParameter(
                f"a file is in the sets twice: {entry.file}", param_hint="--manifest"
            )
        seen.update(keys)
    return entries


def _write(out: Path, probe: dict[str, object]) -> None:
    out.write_text(json.dumps(probe, indent=1) + "\n", encoding="utf-8")
    metrics = probe["metrics"]
    assert isinstance(metrics, dict)
    typer.echo(
        f"wrote {out}: held-out AUC {metrics['auc']}, accuracy {metrics['accuracy']}, "
        f"ECE {metrics['expected_calibration_error']}"
    )
