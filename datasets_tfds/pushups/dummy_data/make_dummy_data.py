"""Writes the pushups builder's dummy data: a tiny copy of tf-blazepose's data/pushup folder.

    python datasets_tfds/pushups/dummy_data/make_dummy_data.py [--out DIR]

Layout (DIR defaults to this script's folder), as tf-blazepose's tools read it::

    labels/<video>_<frame>.jpg.json   a JSON list of 7 [x, y] points (json.dump's format)
    images/<video>_<frame>.jpg        80x60 synthetic frames (a dot on each point)

Frames per video, and where the two split rules send each video:

    video  frames  video_hash (sha256 % 10)   tf_blazepose (number)
    3      2       8 -> train                 < 480 -> train
    18     1       0 -> test                  < 480 -> train
    481    1       0 -> test                  480..549 -> validation
    492    2       1 -> validation            480..549 -> validation
    551    1       1 -> validation            >= 550 -> test
    554    2       5 -> train                 >= 550 -> test

plus labels/3_0099.jpg.json with 6 points (skipped, as tf-blazepose skips it; its frame
exists). Frame 3_0007.jpg has its right wrist at (10, 45) and head top at (40.5, 12).
The output is deterministic, so re-running the script reproduces the committed files.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from datasets_tfds.dummy_data_tools import run_script, write_jpeg

WIDTH, HEIGHT = 80, 60

# (video, frame) of each labelled frame.
FRAMES = ((3, 7), (3, 8), (18, 1), (481, 12), (492, 3), (492, 4), (551, 20), (554, 5),
          (554, 6))
SKIPPED_FRAME = (3, 99)

# Arms and head top of a person in a push-up seen from the front, in PUSHUP_7 order: right
# wrist, right elbow, right shoulder, head top, left shoulder, left elbow, left wrist.
PUSHUP_POSE = ((10, 45), (18, 33), (28, 24), (40.5, 12), (52, 24), (62, 33), (70, 45))


def frame_name(video: int, frame: int) -> str:
    return f"{video}_{frame:04d}.jpg"


def frame_points(position: int) -> list[list[float]]:
    """The 7 points of the ``position``-th frame (the pose moves down a little per frame)."""
    return [[x, y + 1.5 * position] if position else [x, y] for x, y in PUSHUP_POSE]


def picture(points: list[list[float]], shade: int) -> np.ndarray:
    """uint8 ``[60, 80, 3]``: a flat background and a 3x3 dot on each point."""
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = (120, 60 + shade, 60)
    for x, y in points:
        column, row = int(x), int(y)
        image[max(row - 1, 0):row + 2, max(column - 1, 0):column + 2] = (255, 255, 255)
    return image


def write_folder(folder: pathlib.Path) -> None:
    """``labels/`` and ``images/`` in ``folder``."""
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for position, (video, frame) in enumerate(FRAMES + (SKIPPED_FRAME,)):
        name = frame_name(video, frame)
        points = frame_points(position)
        if (video, frame) == SKIPPED_FRAME:
            points = points[:6]
        (folder / "labels" / f"{name}.json").write_text(json.dumps(points))
        write_jpeg(folder / "images" / name, picture(points, 15 * position), quality=60)


if __name__ == "__main__":
    run_script(write_folder, __doc__, __file__)
