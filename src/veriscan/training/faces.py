"""Fitting the face probe: CLIP embeddings of face crops, from photos, animations and video
frames, real against swapped, reenacted or generated (`veriscan train faces`).

A face swap or a talking-head generator changes the face and leaves the rest of the frame
alone, so the video detector judges the faces it finds on their own, with a probe fitted on
face crops cut exactly as analysis cuts them (`detectors.face_crops`): up to
`detectors.FRAMES` frames spread over a video or animation (its manifest `region` first, for
side-by-side files), or the picture itself, then up to two faces per frame. A picture in
which no face is found but which is already a face-sized crop (aligned datasets ship such
crops) counts as one face. Each crop is re-saved as a JPEG of random quality (both classes
alike) before it is embedded. Folds, calibration and figures are as for the image probe.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from veriscan.analyzers.clip import crops
from veriscan.analyzers.detectors import FACE_VIEWS, FRAMES, face_crops
from veriscan.training.images import Recipe, _rng, crop_region, decode
from veriscan.training.manifest import Entry, load_bytes

STILL_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
ALIGNED_CROP_SIDE = 320  # a picture this small with no face found is taken as a face crop


def _frames(entry: Entry, data: Path) -> list[Image.Image]:
    from veriscan.analyzers.frames import sample_frames

    path = data / entry.file
    load_bytes(data, entry)  # checks the sha256
    if path.suffix.lower() in STILL_SUFFIXES:
        frames = [decode(load_bytes(data, entry))]
    else:
        frames = [Image.fromarray(s.frame) for s in sample_frames(path, FRAMES)]
    if entry.region:
        frames = [crop_region(frame, entry.region) for frame in frames]
    return frames


def face_views(entry: Entry, data: Path, copy: int, recipe: Recipe) -> list[Image.Image]:
    rng = _rng(entry, copy, recipe.seed)
    views: list[Image.Image] = []
    frames = _frames(entry, data)
    for frame in frames:
        found = face_crops(frame)
        if not found and len(frames) == 1 and max(frame.size) <= ALIGNED_CROP_SIDE:
            found = [frame]
        for face in found:
            quality = int(rng.integers(recipe.quality[0], recipe.quality[1] + 1))
            buffer = io.BytesIO()
            face.convert("RGB").save(buffer, "JPEG", quality=quality)
            buffer.seek(0)
            with Image.open(buffer) as saved:
                views += crops(saved.convert("RGB"), FACE_VIEWS)
    return views
