"""COCO 2017 person keypoints: locating the files and reading the people of one split.

The annotation files are COCO's ``person_keypoints_{train,val}2017.json`` (format:
https://cocodataset.org/#format-data): ``images`` (``id``, ``file_name``, ``width``,
``height``, ...), ``annotations`` (``id``, ``image_id``, ``category_id``, ``keypoints``
``[x1, y1, v1, ...]`` for the 17 points, ``num_keypoints``, ``area``, ``bbox``
``[x, y, width, height]``, ``iscrowd``, ``segmentation``) and ``categories`` (person, with the 17
keypoint names and the skeleton). ``v`` is 0 not labelled (x = y = 0), 1 labelled but not
visible, 2 labelled and visible.

Parsing reuses ``datasets_tfds.custom_pose.annotation_files`` (``parse_records``: one record per
person annotation with at least one labelled point; crowd annotations, annotations with every
``v == 0`` and other categories are counted, not kept). This module adds what evaluation with
pycocotools needs (annotation and image ids, area, ``num_keypoints``, ``iscrowd``, the original
image size) and the coordinate convention:

COCO keypoints are integer pixel indices (0-based, ``[0, W - 1]``), so the stored keypoints are
``x + 0.5, y + 0.5``, the centre of that pixel in the project's continuous coordinates; boxes
are already continuous (``[0, W]``) and are stored as ``[x, y, x + w, y + h]``. This is
Detectron2's convention (``detectron2/data/datasets/coco.py``: +0.5 when loading, -0.5 when
writing results); :func:`keypoint_result` applies the inverse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from etils import epath

from blazepose.topology import COCO_17
from datasets_tfds.custom_pose.annotation_files import (
    COCO_KEYPOINT_OFFSET,
    InvalidRecordError,
    PersonRecord,
    SplitRecords,
    parse_records,
    read_annotation_file,
)

__all__ = [
    "KEYPOINT_OFFSET",
    "SPLIT_SOURCES",
    "CocoSplit",
    "SplitSource",
    "coco_fields",
    "keypoint_result",
    "locate_splits",
    "read_split",
]

KEYPOINT_OFFSET = COCO_KEYPOINT_OFFSET
"""Added to COCO's integer keypoint coordinates to get continuous pixel coordinates (by
custom_pose's COCO reader, which this builder reads through)."""

MAX_LISTED = 20


@dataclasses.dataclass(frozen=True)
class SplitSource:
    """Where one split's files are, relative to the manual dir."""

    split: str
    annotation_file: str
    image_dir: str


SPLIT_SOURCES = (
    SplitSource("train", "annotations/person_keypoints_train2017.json", "train2017"),
    SplitSource("validation", "annotations/person_keypoints_val2017.json", "val2017"),
)
"""COCO 2017's layout: annotations_trainval2017.zip, train2017.zip and val2017.zip extracted."""


class InvalidCocoFileError(ValueError):
    """Annotations that cannot become examples (lists the first ones, naming file and record)."""


def locate_splits(manual_dir: epath.Path) -> tuple[list[SplitSource], dict[str, str]]:
    """(splits to build, {split: why it is not built}).

    A split is built when its annotation file exists; then its image folder must exist too.
    A missing train file only leaves train out (build from val2017 alone).

    Raises:
      FileNotFoundError: no annotation file at all, or an image folder of a present split is
        missing; lists each missing item with the full path where it was looked for.
    """
    present, absent, missing = [], {}, []
    for source in SPLIT_SOURCES:
        annotation_file = manual_dir / source.annotation_file
        if annotation_file.is_file():
            present.append(source)
            if not (manual_dir / source.image_dir).is_dir():
                missing.append(f"{manual_dir / source.image_dir} (images of split "
                               f"{source.split!r}, from {source.image_dir}.zip)")
        else:
            absent[source.split] = f"{annotation_file} not found"
    if not present:
        missing += [f"{manual_dir / source.annotation_file} (annotations of split "
                    f"{source.split!r}, from annotations_trainval2017.zip)"
                    for source in SPLIT_SOURCES]
        missing[-1] += " -- at least the validation file is needed"
    if missing:
        raise FileNotFoundError("coco_keypoints: missing in the manual dir "
                                f"{manual_dir}:\n  " + "\n  ".join(missing)
                                + "\nSee MANUAL_DOWNLOAD_INSTRUCTIONS "
                                  "(datasets_tfds/coco_keypoints/README.md).")
    return present, absent


@dataclasses.dataclass
class CocoSplit:
    """The people of one split, ready to be written.

    Attributes:
      source: where the split's files are.
      records: one per usable person annotation (keypoints in continuous pixels, image_id
        ``<image folder>/<file_name>#<annotation id>``).
      fields: image_id -> the extra features of :func:`coco_fields`.
      parsed: custom_pose's parse result (counts of ignored annotations, records in file).
      num_keypoints_mismatches: annotations whose ``num_keypoints`` differs from their count
        of ``v > 0`` (the file's value is kept).
    """

    source: SplitSource
    records: list[PersonRecord]
    fields: dict[str, dict[str, Any]]
    parsed: SplitRecords
    num_keypoints_mismatches: int

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts for the DatasetInfo metadata."""
        return {
            "annotation_file": self.source.annotation_file,
            "annotations_in_file": self.parsed.total,
            "examples": len(self.records),
            **{kind: count for kind, count in self.parsed.ignored.items()},
            "num_keypoints_mismatches": self.num_keypoints_mismatches,
        }


def _check_person_category(path: epath.Path, document: Mapping[str, Any]) -> None:
    persons = [c for c in document.get("categories") or []
               if isinstance(c, dict) and c.get("name") == "person"]
    if len(persons) != 1 or tuple(persons[0].get("keypoints") or ()) != COCO_17.keypoint_names:
        raise InvalidCocoFileError(
            f"{path}: expected one 'person' category listing COCO's 17 keypoint names in order "
            f"({', '.join(COCO_17.keypoint_names)})")


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def coco_fields(annotation: Mapping[str, Any], image: Mapping[str, Any]) -> dict[str, Any]:
    """The extra features of one person: COCO's ids, area, counts and the image size.

    Raises:
      ValueError: a field is missing or not a number of the right kind.
    """
    return {
        "annotation_id": np.int64(_integer(annotation.get("id"), "'id'")),
        "coco_image_id": np.int64(_integer(annotation.get("image_id"), "'image_id'")),
        "area": np.float32(_number(annotation.get("area"), "'area'")),
        "num_keypoints": np.int32(_integer(annotation.get("num_keypoints"), "'num_keypoints'")),
        "iscrowd": np.int32(_integer(annotation.get("iscrowd", 0), "'iscrowd'")),
        "image_width": np.int32(_integer(image.get("width"), "image 'width'")),
        "image_height": np.int32(_integer(image.get("height"), "image 'height'")),
    }


def read_split(manual_dir: epath.Path, source: SplitSource) -> CocoSplit:
    """Reads and checks one split's annotation file (no image is read).

    Raises:
      InvalidCocoFileError: not a COCO person keypoints file, or invalid annotations (the
        first ones listed with file, record index, annotation id and image).
    """
    path = manual_dir / source.annotation_file
    annotation_file = read_annotation_file(source.split, path, source.annotation_file,
                                           manual_dir / source.image_dir)
    if annotation_file.format != "coco":
        raise InvalidCocoFileError(f"{path}: not a COCO file (no 'images'/'annotations')")
    document = annotation_file.document
    _check_person_category(path, document)
    parsed = parse_records(annotation_file, COCO_17)
    images = {image.get("id"): image for image in document["images"] if isinstance(image, dict)}
    errors = list(parsed.invalid)
    records, fields, mismatches = [], {}, 0
    for record in parsed.records:
        annotation = document["annotations"][record.record_index]
        try:
            extra = coco_fields(annotation, images[annotation["image_id"]])
        except ValueError as error:
            errors.append(record.error(str(error)))
            continue
        mismatches += int(extra["num_keypoints"] != record.labelled.sum())
        image_id = f"{source.image_dir}/{record.image_name}#{int(extra['annotation_id'])}"
        records.append(dataclasses.replace(record, image_id=image_id))
        fields[image_id] = extra
    if errors:
        raise InvalidCocoFileError(_error_list(errors))
    return CocoSplit(source, records, fields, parsed, mismatches)


def _error_list(errors: list[InvalidRecordError]) -> str:
    lines = [f"coco_keypoints: {len(errors)} invalid annotation(s):"]
    lines += [f"  {error}" for error in errors[:MAX_LISTED]]
    if len(errors) > MAX_LISTED:
        lines.append(f"  ... and {len(errors) - MAX_LISTED} more")
    return "\n".join(lines)


def keypoint_result(coco_image_id: int, keypoints: np.ndarray, score: float,
                    category_id: int = 1) -> dict[str, Any]:
    """One pycocotools keypoint result from keypoints in this data set's coordinates.

    Args:
      coco_image_id: the example's ``coco_image_id``.
      keypoints: float ``[17, 2]`` continuous pixel coordinates of the original image (as the
        ``keypoints`` feature stores them); COCO's pixel indices are these - 0.5.
      score: the detection's confidence.
      category_id: COCO's person category.

    Returns:
      ``{"image_id", "category_id", "keypoints": [x, y, 1] * 17, "score"}`` as
      ``COCO.loadRes`` reads it (COCOeval ignores the result's visibility flags).
    """
    points = np.asarray(keypoints, np.float64).reshape(COCO_17.num_keypoints, 2) - KEYPOINT_OFFSET
    flat = np.concatenate([points, np.ones((COCO_17.num_keypoints, 1))], axis=1).ravel()
    return {"image_id": int(coco_image_id), "category_id": int(category_id),
            "keypoints": [float(v) for v in flat], "score": float(score)}
