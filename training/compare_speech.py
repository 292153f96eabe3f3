"""Measure the speech probe against recordings from sources it never saw.

    .venv/bin/python training/compare_speech.py --more training/speech-more.csv \
        --data SPEECH --cache CACHE

SPEECH must hold both sets (`veriscan trainset fetch` for each manifest into the same
folder). Prints, as JSON:

- `shipped`: the shipped probe (`speech_probe.json`) on the recordings of `--more` (AUC over
  all three versions of each), and on the first set. In the ninth session it had seen none
  of `--more`; since the tenth it is fitted on both sets, so both figures are in-sample;
- `A`: the recipe shipped from the seventh session to the ninth (AASIST-L's logit and the
  eight traits) refitted on both sets:
  held-out AUC over all versions (`M`), ECE, accuracy, and the held-out AUC on the `--more`
  recordings alone (`G`) and on the first set's alone (`old`), folds grouped by source;
- `B`: the same with AASIST-L's logit alone (shipped since the tenth session);
- for each candidate, quantiles of its calibrated held-out probability per class (first
  versions), and the share of real recordings at 0.40 or more (SUSPICIOUS by the default
  thresholds).

The rule these figures were measured for, and what they were: docs/evaluation.md,
"Results, 2026-12-07 (ninth session)".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from veriscan.analyzers.speech import AASIST_WIDTH, PROBE_FILE, WIDTH, SpeechProbe
from veriscan.training import images, speech
from veriscan.training import manifest as sets
from veriscan.training.images import auc

ROOT = Path(__file__).resolve().parents[1]


def _candidate(
    entries: Sequence[sets.Entry],
    measured: images.Embedded,
    recipe: images.Recipe,
    columns: list[int],
    is_new: np.ndarray,
) -> dict[str, Any]:
    labels = np.asarray([int(e.positive) for e in entries])
    set_, _, _ = speech.standardised(measured, columns)
    probe = images.fit(entries, set_, recipe, name="candidate", report=lambda _: None)
    held = probe["_held_out"]
    keys = sorted(held)

    def part(chosen_file: Callable[[int], bool]) -> float:
        inside = [k for k in keys if chosen_file(k[0])]
        return round(auc([labels[k[0]] for k in inside], [held[k] for k in inside]), 4)

    a, b = probe["calibration"]["a"], probe["calibration"]["b"]
    spreads = {}
    for value, name in ((0, "real"), (1, "synthetic")):
        firsts = [v for k, v in held.items() if k[1] == 0 and labels[k[0]] == value]
        p = 1 / (1 + np.exp(-(a * np.asarray(firsts) + b)))
        spreads[name] = {
            "files": int(p.size),
            "quantiles_10_25_50_75_90": [
                round(float(q), 3) for q in np.quantile(p, [0.1, 0.25, 0.5, 0.75, 0.9])
            ],
            "at_least_0.40": round(float((p >= 0.4).mean()), 3),
        }
    metrics = probe["metrics"]
    return {
        "M": metrics["auc"],
        "ECE": metrics["expected_calibration_error"],
        "accuracy": metrics["accuracy"],
        "G": part(lambda i: bool(is_new[i])),
        "old": part(lambda i: not is_new[i]),
        "held_out_probability": spreads,
        "by_generator": metrics["by_generator"],
    }


def _shipped(
    entries: Sequence[sets.Entry], measured: images.Embedded, is_new: np.ndarray
) -> dict[str, float]:
    """The shipped probe scored as analysis scores it (`SpeechProbe.logits`)."""
    labels = np.asarray([int(e.positive) for e in entries])
    window = SpeechProbe.load(PROBE_FILE).logits(measured.embeddings)
    scores = speech.version_scores(measured, window)

    def part(chosen_file: Callable[[int], bool]) -> float:
        inside = [k for k in sorted(scores) if chosen_file(k[0])]
        return round(auc([labels[k[0]] for k in inside], [scores[k] for k in inside]), 4)

    return {
        "G": part(lambda i: bool(is_new[i])),
        "own set, in-sample": part(lambda i: not is_new[i]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=ROOT / "training" / "speech.csv")
    parser.add_argument("--more", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache", type=Path)
    arguments = parser.parse_args()
    old = sets.read(arguments.manifest)
    known = {e.sha256 for e in old}
    more = [e for e in sets.read(arguments.more) if e.sha256 not in known]
    entries = old + more
    is_new = np.asarray([index >= len(old) for index in range(len(entries))])
    recipe = images.Recipe(copies=3, folds=5, regularisation=0.1)  # the shipped recipe
    measured = speech.features(
        entries, arguments.data, recipe, cache=arguments.cache,
        report=lambda line: print(line, file=sys.stderr),
    )  # fmt: skip
    labels = [e.positive for e in more]
    result = {
        "files": {"first set": len(old), "more": len(more), "more synthetic": sum(labels)},
        "shipped": _shipped(entries, measured, is_new),
        "A (logit and traits)": _candidate(
            entries, measured, recipe, [AASIST_WIDTH - 1, *range(AASIST_WIDTH, WIDTH)], is_new
        ),
        "B (logit alone)": _candidate(entries, measured, recipe, [AASIST_WIDTH - 1], is_new),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
