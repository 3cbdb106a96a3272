"""Reading the push-up data set of vietanhdev/tf-blazepose: per-frame JSON label files.

The format, as tf-blazepose's tools write and read it (sources in README.md)::

    MANUAL_DIR/labels/<image>.json   one file per annotated frame: a JSON list of 7 [x, y]
                                     points in the frame's pixels, PUSHUP_7 order (right wrist,
                                     right elbow, right shoulder, head top, left shoulder, left
                                     elbow, left wrist); no visibility, no box
    MANUAL_DIR/images/<image>        the frame; <image> is the label file's name without
                                     ".json" (e.g. 12_0034.jpg.json labels 12_0034.jpg)

``<image>`` starts with the video's id and an underscore (``<video>_<frame>``); the original
split takes ``int(name.split("_")[0])``. Label files with another number of points are skipped,
as ``tools/process_pushup_data.py`` skips them.

Also accepted (the issue describing this builder names label files ``<video>_<frame>.json``):
a label whose name minus ``.json`` has no image extension labels ``<that>.jpg``, ``.jpeg`` or
``.png``; and images may lie beside the label files instead of in ``images/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from etils import epath

from blazepose.topology import PUSHUP_7

__all__ = [
    "IMAGES_DIR",
    "LABELS_DIR",
    "SPLIT_RULES",
    "TF_BLAZEPOSE",
    "TF_BLAZEPOSE_TEST_FROM",
    "TF_BLAZEPOSE_VALIDATION_FROM",
    "VIDEO_HASH",
    "Frame",
    "FrameScan",
    "InvalidLabelFileError",
    "MissingSourceFilesError",
    "assign_splits",
    "parse_points",
    "scan_frames",
    "tf_blazepose_split",
    "video_hash_split",
    "video_of",
]

LABELS_DIR = "labels"
IMAGES_DIR = "images"
LABEL_SUFFIX = ".json"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
"""Tried, in this order, when a label's name minus ``.json`` has no image extension."""

NUM_POINTS = PUSHUP_7.num_keypoints
MAX_LISTED = 20
"""Problems named in an error message (all are counted)."""

VIDEO_HASH = "video_hash"
TF_BLAZEPOSE = "tf_blazepose"

HASH_BUCKETS = 10
"""video_hash: sha256 of the video id modulo this; bucket 0 is test, 1 validation."""

TF_BLAZEPOSE_VALIDATION_FROM = 480
TF_BLAZEPOSE_TEST_FROM = 550
"""tf_blazepose: video < 480 train, 480 <= video < 550 validation, >= 550 test
(``tools/process_pushup_data.py``)."""


class MissingSourceFilesError(FileNotFoundError):
    """Files the build needs are missing from the manual dir; the message lists them."""


class InvalidLabelFileError(ValueError):
    """Label files that cannot be read; the message names each (the first few)."""


@dataclasses.dataclass(frozen=True)
class Frame:
    """One annotated frame.

    Attributes:
      label_path: its JSON label file.
      image_name: the frame's file name (also the example's ``image_id``).
      image_path: the frame's file.
      video: the video id, as written before the first underscore.
      points: float32 ``[7, 2]``, x, y in the frame's pixels as written.
    """

    label_path: epath.Path
    image_name: str
    image_path: epath.Path
    video: str
    points: np.ndarray


@dataclasses.dataclass(frozen=True)
class FrameScan:
    """Every label file of the folder, read.

    Attributes:
      frames: usable frames, sorted by image name.
      skipped: (label file name, reason) of files with a number of points other than 7.
      labels_dir: where the label files were read.
    """

    frames: list[Frame]
    skipped: list[tuple[str, str]]
    labels_dir: epath.Path


def video_of(image_name: str) -> str | None:
    """The video id: the part of ``image_name`` before its first underscore (None without)."""
    video, underscore, _ = image_name.partition("_")
    return video if underscore and video else None


def parse_points(document: Any) -> np.ndarray:
    """A label file's JSON value -> float32 ``[n, 2]``.

    Raises:
      ValueError: not a list of [x, y] pairs of finite numbers.
    """
    if not isinstance(document, list):
        raise ValueError(f"expected a JSON list of [x, y] points, got {type(document).__name__}")
    for index, point in enumerate(document):
        is_pair = isinstance(point, list) and len(point) == 2
        numbers = is_pair and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in point)
        if not numbers:
            raise ValueError(f"point {index} is {point!r}, expected [x, y] with finite numbers")
    return np.asarray(document, np.float32).reshape(-1, 2)


def _image_candidates(image_name: str) -> list[str]:
    """File names that may hold the frame of the label ``<image_name>.json``."""
    if image_name.lower().endswith(IMAGE_EXTENSIONS):
        return [image_name]
    return [image_name] + [image_name + extension for extension in IMAGE_EXTENSIONS]


def _listing(folder: epath.Path) -> set[str]:
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


def scan_frames(manual_dir: epath.Path, builder: str) -> FrameScan:
    """Reads every ``labels/*.json`` of the manual dir and finds each frame's image.

    Raises:
      MissingSourceFilesError: no ``labels/`` folder, no label file in it, or frames whose
        image is in neither ``images/`` nor ``labels/`` (counted, the first few listed with
        the names tried).
      InvalidLabelFileError: label files that are not JSON, not a list of [x, y] pairs, or
        whose name has no video id (``<video>_...``); all are counted, the first few named.
    """
    manual_dir = epath.Path(manual_dir)
    labels_dir = manual_dir / LABELS_DIR
    images_dir = manual_dir / IMAGES_DIR
    if not labels_dir.is_dir():
        raise MissingSourceFilesError(
            f"{builder}: label folder not found: {labels_dir}\nThe manual dir must hold "
            f"{LABELS_DIR}/ (one <image>.json file of 7 [x, y] points per frame) and "
            f"{IMAGES_DIR}/ (the frames), as tf-blazepose's data/pushup folder.")
    in_labels_dir = _listing(labels_dir)
    label_names = sorted(name for name in in_labels_dir if name.endswith(LABEL_SUFFIX))
    if not label_names:
        raise MissingSourceFilesError(f"{builder}: no *{LABEL_SUFFIX} label file in {labels_dir}")
    images_present = _listing(images_dir)
    beside_labels = in_labels_dir - set(label_names)
    frames, skipped, invalid, missing = [], [], [], []
    for label_name in label_names:
        label_path = labels_dir / label_name
        image_name = label_name[:-len(LABEL_SUFFIX)]
        try:
            points = parse_points(json.loads(label_path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
            invalid.append(f"{label_path}: {error}")
            continue
        if len(points) != NUM_POINTS:
            skipped.append((label_name, f"{len(points)} points, expected {NUM_POINTS}"))
            continue
        candidates = _image_candidates(image_name)
        found = next(((images_dir / c) for c in candidates if c in images_present), None)
        if found is None:
            found = next(((labels_dir / c) for c in candidates if c in beside_labels), None)
        if found is None:
            missing.append(f"{label_name}: looked for {', '.join(candidates)} in {images_dir} "
                           f"and {labels_dir}")
            continue
        video = video_of(found.name)
        if video is None:
            invalid.append(f"{label_path}: image name {found.name!r} does not start with "
                           "'<video>_' (the video id the splits need)")
            continue
        frames.append(Frame(label_path, found.name, found, video, points))
    if invalid:
        raise InvalidLabelFileError(
            f"{builder}: {len(invalid)} invalid label file(s):\n  "
            + "\n  ".join(invalid[:MAX_LISTED]))
    if missing:
        raise MissingSourceFilesError(
            f"{builder}: the images of {len(missing)} of {len(label_names)} label files are "
            f"missing:\n  " + "\n  ".join(missing[:MAX_LISTED]))
    frames.sort(key=lambda frame: frame.image_name)
    return FrameScan(frames, skipped, labels_dir)


def video_hash_split(video: str) -> str:
    """``video_hash`` rule: ``int(sha256(video).hexdigest(), 16) % 10`` 0 -> test,
    1 -> validation, else train (about 80 / 10 / 10 of the videos)."""
    bucket = int(hashlib.sha256(video.encode("utf-8")).hexdigest(), 16) % HASH_BUCKETS
    return {0: "test", 1: "validation"}.get(bucket, "train")


def tf_blazepose_split(video: str) -> str:
    """tf-blazepose's rule (``tools/process_pushup_data.py``) on the integer video id.

    Raises:
      ValueError: the video id is not an integer.
    """
    try:
        number = int(video)
    except ValueError:
        raise ValueError(f"video id {video!r} is not an integer; tf-blazepose's split needs "
                         "integer ids (use the video_hash config)") from None
    if number < TF_BLAZEPOSE_VALIDATION_FROM:
        return "train"
    return "validation" if number < TF_BLAZEPOSE_TEST_FROM else "test"


SPLIT_RULES: dict[str, Callable[[str], str]] = {
    VIDEO_HASH: video_hash_split,
    TF_BLAZEPOSE: tf_blazepose_split,
}
"""Config name -> the rule giving a video's split. Every frame follows its video."""


def assign_splits(frames: Sequence[Frame], rule: Callable[[str], str]
                  ) -> dict[str, list[Frame]]:
    """Frames per split (only splits that get frames), by their video's split under ``rule``.

    Raises:
      ValueError: ``rule`` rejects a video (naming a label file of that video).
    """
    splits: dict[str, list[Frame]] = {}
    for frame in frames:
        try:
            split = rule(frame.video)
        except ValueError as error:
            raise ValueError(f"{frame.label_path}: {error}") from None
        splits.setdefault(split, []).append(frame)
    order = {name: rank for rank, name in enumerate(("train", "validation", "test"))}
    return dict(sorted(splits.items(), key=lambda item: order.get(item[0], len(order))))
