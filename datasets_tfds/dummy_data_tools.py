"""Writing helpers shared by the builders' dummy-data scripts (``<name>/dummy_data/``).

Each ``make_dummy_data.py`` states its format (annotations, which pictures) and calls these to
write the files, so that rerunning it reproduces the committed dummy data: pictures are small
flat-coloured uint8 arrays, MATLAB files carry a fixed header instead of scipy's timestamped one.

The scripts import this module, so run them with the repository importable (from the root:
``PYTHONPATH=. python datasets_tfds/<name>/dummy_data/make_dummy_data.py``, or with the project
installed).
"""

from __future__ import annotations

import argparse
import io
import pathlib
from collections.abc import Callable, Iterable

import numpy as np
import scipy.io
import tensorflow as tf

__all__ = ["COCO_PERSON_KEYPOINTS", "COCO_PERSON_SKELETON", "boxes_picture", "mat_file_bytes",
           "run_script", "write_jpeg", "write_png"]

# The person category of COCO's person_keypoints files, as they write it (skeleton 1-based).
COCO_PERSON_KEYPOINTS = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
COCO_PERSON_SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip

MAT_HEADER_BYTES = 116
"""Length of a MATLAB v5 file's descriptive header text."""


def write_jpeg(path: pathlib.Path, pixels: np.ndarray, quality: int) -> None:
    """``pixels`` (uint8 ``[H, W, 3]``) as a JPEG of ``quality`` at ``path``."""
    path.write_bytes(tf.io.encode_jpeg(pixels, quality=quality).numpy())


def write_png(path: pathlib.Path, pixels: np.ndarray) -> None:
    """``pixels`` (uint8 ``[H, W, 3]``) as a PNG at ``path``."""
    path.write_bytes(tf.io.encode_png(pixels).numpy())


def boxes_picture(seed: int, height: int, width: int,
                  boxes: Iterable[tuple[int, int, int, int]]) -> np.ndarray:
    """uint8 ``[height, width, 3]``: a flat background with each box filled, colours from seed.

    Boxes are pixel index ranges x0, y0, x1, y1 (x1, y1 exclusive; negative starts clipped).
    The background is ``rng.integers(60, 200, 3)``, then one ``rng.integers(0, 256, 3)`` per box,
    with ``rng = np.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:] = rng.integers(60, 200, 3)
    for x0, y0, x1, y1 in boxes:
        pixels[max(y0, 0):y1, max(x0, 0):x1] = rng.integers(0, 256, 3)
    return pixels


def mat_file_bytes(variables: dict[str, object], header: bytes, compress: bool) -> bytes:
    """A MATLAB v5 file of ``variables`` (``scipy.io.savemat``) with ``header`` as its text.

    scipy's header names the creation time; a fixed one keeps reruns byte-identical.
    """
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, do_compression=compress)
    data = bytearray(buffer.getvalue())
    data[:MAT_HEADER_BYTES] = header.ljust(MAT_HEADER_BYTES, b" ")
    return bytes(data)


def run_script(write: Callable[[pathlib.Path], None], doc: str, script: str) -> None:
    """The command line of a dummy-data script: ``--out`` folder (default: the script's own).

    ``doc`` is the script's ``__doc__`` (its first line describes it), ``script`` its
    ``__file__``.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(script).parent,
                        help="folder to write (default: this script's folder)")
    write(parser.parse_args().out)
