"""Reading user keypoint annotations: the tf-blazepose layout and COCO keypoint files.

Two formats are recognised by the content of each JSON file:

tf-blazepose (a JSON list, as in vietanhdev/tf-blazepose's DATASET.md and data tools)::

    [{"image": "001.jpg",                  # file name relative to the image folder
      "points": [[x, y], ...],             # K points in pixels; [-1, -1] = not labelled
      "visibility": [1, 0, ...],           # K values, 1 visible / 0 not visible
      "bbox": [[x1, y1], [x2, y2]]},       # optional person box, corners in pixels
     ...]

COCO keypoints (a JSON object with ``images``, ``annotations`` and ``categories``):
``annotations[i].keypoints`` is ``[x1, y1, v1, x2, y2, v2, ...]`` with ``v`` 0 = not labelled,
1 = labelled but not visible, 2 = labelled and visible; ``bbox`` is ``[x, y, width, height]``;
``categories[j].keypoints`` names the points and ``skeleton`` joins them (1-based).

Both become :class:`PersonRecord` objects in the layout of ``datasets_tfds.common``: keypoints
float32 ``[K, 2]`` (x, y in image pixels, as written in the file, 0 where not labelled),
visibility float32 ``[K]`` in {0, 1}, labelled bool ``[K]`` and a person box float32 ``[4]``
(x_min, y_min, x_max, y_max in pixels) or None when the file gives none. Problems with a record
become :class:`InvalidRecordError` values naming the annotation file, the record's index in it
and its image.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import tensorflow as tf
from etils import epath

from blazepose.keypoints import box_from_keypoints
from blazepose.topology import Topology
from datasets_tfds.common import out_of_image_problem, pose_example

__all__ = [
    "COCO_FORMAT",
    "DEFAULT_IMAGE_DIR",
    "DEFAULT_SPLIT_FILES",
    "IGNORED_KINDS",
    "TF_BLAZEPOSE_FORMAT",
    "AnnotationFile",
    "InvalidRecordError",
    "LoadedImage",
    "PersonRecord",
    "SplitRecords",
    "assign_image_ids",
    "coco_keypoint_categories",
    "examples_by_image",
    "image_dir_for_split",
    "keypoint_counts",
    "load_image",
    "parse_records",
    "person_example",
    "read_annotation_file",
]

TF_BLAZEPOSE_FORMAT = "tf_blazepose"
COCO_FORMAT = "coco"

DEFAULT_SPLIT_FILES: dict[str, str] = {
    "train": "train.json",
    "validation": "val.json",
    "test": "test.json",
}
"""Split name -> annotation file of the tf-blazepose layout, relative to the data folder."""

DEFAULT_IMAGE_DIR = "images"
"""Folder, relative to the data folder, that records' image names are relative to."""

NOT_LABELLED_POINT = (-1.0, -1.0)
"""A tf-blazepose point equal to this (both coordinates) was not placed by the annotator."""

IGNORED_KINDS = ("crowd", "no_labelled_points", "other_category")
"""Records that are left out by design rather than for being wrong (COCO only):
``iscrowd`` annotations, annotations with every ``v == 0``, and annotations of a category
without keypoints (or without a ``keypoints`` field)."""

_JPEG_MAGIC = b"\xff\xd8\xff"
_COCO_VISIBILITY_VALUES = (0, 1, 2)


class InvalidRecordError(ValueError):
    """One record of an annotation file that cannot become an example.

    Attributes:
      annotation_file: path of the JSON file, as a string.
      record_index: 0-based position of the record in the file's list (tf-blazepose) or in
        its ``annotations`` list (COCO).
      image: the record's image name as written in the file, or None when unknown.
      annotation_id: COCO's annotation ``id``, None for tf-blazepose.
      reason: what is wrong.
    """

    def __init__(self, annotation_file: str, record_index: int, image: str | None, reason: str,
                 annotation_id: Any = None):
        self.annotation_file = annotation_file
        self.record_index = record_index
        self.image = image
        self.reason = reason
        self.annotation_id = annotation_id
        super().__init__(f"{annotation_file}, {self.record_label}: {reason}")

    @property
    def record_label(self) -> str:
        """``record 3 (image '003.jpg')`` or ``record 3 (annotation id 17, image 'a.jpg')``."""
        details = [] if self.annotation_id is None else [f"annotation id {self.annotation_id}"]
        details.append(f"image {self.image!r}" if self.image else "image unknown")
        return f"record {self.record_index} ({', '.join(details)})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description, for the skip report."""
        entry: dict[str, Any] = {"record": self.record_index, "image": self.image,
                                 "reason": self.reason}
        if self.annotation_id is not None:
            entry["annotation_id"] = self.annotation_id
        return entry


@dataclasses.dataclass(frozen=True)
class AnnotationFile:
    """One parsed JSON annotation file and where its images are.

    Attributes:
      split: the TFDS split it feeds.
      path: the JSON file.
      display_name: the path as the user gave it (relative to the data folder), for reports.
      image_dir: folder the records' image names are relative to.
      format: ``TF_BLAZEPOSE_FORMAT`` or ``COCO_FORMAT``.
      document: the parsed JSON.
    """

    split: str
    path: epath.Path
    display_name: str
    image_dir: epath.Path
    format: str
    document: Any


def read_annotation_file(split: str, path: epath.Path, display_name: str,
                         image_dir: epath.Path) -> AnnotationFile:
    """Parses ``path`` and tells its format from its content.

    Raises:
      ValueError: the file is not JSON, or is neither a list (tf-blazepose) nor an object with
        ``images`` and ``annotations`` lists (COCO). The message names the file.
    """
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a valid JSON file ({error})") from None
    if isinstance(document, list):
        file_format = TF_BLAZEPOSE_FORMAT
    elif (isinstance(document, dict) and isinstance(document.get("annotations"), list)
          and isinstance(document.get("images"), list)):
        file_format = COCO_FORMAT
    else:
        raise ValueError(
            f"{path}: expected a JSON list of records (tf-blazepose format) or a COCO object "
            "with 'images' and 'annotations' lists"
        )
    return AnnotationFile(split, path, display_name, image_dir, file_format, document)


def coco_keypoint_categories(annotation_file: AnnotationFile) -> list[dict[str, Any]]:
    """The categories of a COCO file that list keypoint names (empty for tf-blazepose)."""
    if annotation_file.format != COCO_FORMAT:
        return []
    categories = annotation_file.document.get("categories") or []
    return [c for c in categories if isinstance(c, dict) and c.get("keypoints")]


def keypoint_counts(annotation_file: AnnotationFile) -> collections.Counter[int]:
    """How many records have how many keypoints, to infer K when no topology is given.

    COCO files with keypoint categories count the categories' names instead of the records.
    """
    counts: collections.Counter[int] = collections.Counter()
    if annotation_file.format == TF_BLAZEPOSE_FORMAT:
        for entry in annotation_file.document:
            if isinstance(entry, dict) and isinstance(entry.get("points"), list):
                counts[len(entry["points"])] += 1
        return counts
    categories = coco_keypoint_categories(annotation_file)
    if categories:
        counts.update(len(c["keypoints"]) for c in categories)
        return counts
    for annotation in annotation_file.document["annotations"]:
        keypoints = annotation.get("keypoints") if isinstance(annotation, dict) else None
        if isinstance(keypoints, list) and len(keypoints) % 3 == 0:
            counts[len(keypoints) // 3] += 1
    return counts


@dataclasses.dataclass(frozen=True)
class PersonRecord:
    """One person of one image, checked against the topology, before its image is read.

    Attributes:
      annotation_file: path of the JSON file it came from, as a string.
      record_index: position in that file (see :class:`InvalidRecordError`).
      annotation_id: COCO annotation ``id``; None for tf-blazepose.
      image_name: image file name as written in the annotations.
      image_path: the image file.
      image_id: unique id in the data set (see :func:`assign_image_ids`).
      keypoints: float32 ``[K, 2]``, x, y in pixels as written; 0 where not labelled.
      visibility: float32 ``[K]``, 1 visible, 0 not (0 where not labelled).
      labelled: bool ``[K]``.
      person_box: float32 ``[4]`` x_min, y_min, x_max, y_max from the file, or None.
    """

    annotation_file: str
    record_index: int
    annotation_id: Any
    image_name: str
    image_path: epath.Path
    image_id: str
    keypoints: np.ndarray
    visibility: np.ndarray
    labelled: np.ndarray
    person_box: np.ndarray | None

    def error(self, reason: str) -> InvalidRecordError:
        """An :class:`InvalidRecordError` about this record."""
        return InvalidRecordError(self.annotation_file, self.record_index, self.image_name,
                                  reason, self.annotation_id)


@dataclasses.dataclass
class SplitRecords:
    """The records of one split: usable ones, invalid ones and deliberately ignored ones.

    Attributes:
      source: the annotation file.
      records: records that passed the checks that need no image.
      invalid: records found invalid so far (checks without images here; image failures are
        appended while generating when invalid records are skipped).
      ignored: count per kind in ``IGNORED_KINDS``.
      total: records (tf-blazepose) or annotations (COCO) in the file.
    """

    source: AnnotationFile
    records: list[PersonRecord]
    invalid: list[InvalidRecordError]
    ignored: dict[str, int]
    total: int

    def skip_summary(self, max_listed: int) -> dict[str, Any]:
        """JSON-ready counts of skipped records, listing at most ``max_listed`` invalid ones."""
        return {
            "annotation_file": self.source.display_name,
            "format": self.source.format,
            "records_in_file": self.total,
            "invalid": len(self.invalid),
            **{kind: self.ignored.get(kind, 0) for kind in IGNORED_KINDS},
            "invalid_records": [error.as_dict() for error in self.invalid[:max_listed]],
        }


# ---------------------------------------------------------------------------------------------
# Value checks shared by both formats
# ---------------------------------------------------------------------------------------------


class _RecordProblem(Exception):
    """Internal: a reason why the record being parsed is invalid."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_numbers(values: list[Any], what: str) -> np.ndarray:
    """float64 array of ``values``; raises unless all are finite JSON numbers."""
    if not all(_is_number(v) for v in values):
        raise _RecordProblem(f"{what} must hold numbers, got {values!r}")
    array = np.asarray(values, np.float64)
    if not np.isfinite(array).all():
        raise _RecordProblem(f"{what} holds a non-finite value (NaN or infinity): {values!r}")
    return array


def _checked_box(x_min: float, y_min: float, x_max: float, y_max: float, what: str
                 ) -> np.ndarray:
    if x_max < x_min or y_max < y_min:
        raise _RecordProblem(f"{what} has its corners out of order (x_min, y_min, x_max, y_max = "
                             f"{x_min}, {y_min}, {x_max}, {y_max})")
    return np.array([x_min, y_min, x_max, y_max], np.float32)


# ---------------------------------------------------------------------------------------------
# tf-blazepose records
# ---------------------------------------------------------------------------------------------


def _parse_tf_blazepose_points(entry: dict[str, Any], topology: Topology
                               ) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints float64 [K, 2] with unlabelled points as written, labelled bool [K])."""
    points = entry.get("points")
    if not isinstance(points, list):
        raise _RecordProblem("missing 'points' (a list of [x, y])")
    count = topology.num_keypoints
    if len(points) != count:
        raise _RecordProblem(f"'points' has {len(points)} entries, expected {count} "
                             f"(topology {topology.name})")
    for index, point in enumerate(points):
        if not isinstance(point, list) or len(point) != 2:
            raise _RecordProblem(f"points[{index}] must be [x, y], got {point!r}")
        _finite_numbers(point, f"points[{index}]")
    keypoints = np.asarray(points, np.float64).reshape(count, 2)
    labelled = ~np.all(keypoints == np.asarray(NOT_LABELLED_POINT), axis=1)
    return keypoints, labelled


def _parse_tf_blazepose_visibility(entry: dict[str, Any], count: int) -> np.ndarray:
    """float32 [K] in {0, 1}; JSON true/false count as 1/0."""
    visibility = entry.get("visibility")
    if not isinstance(visibility, list):
        raise _RecordProblem("missing 'visibility' (a list of 0/1 values)")
    if len(visibility) != count:
        raise _RecordProblem(f"'visibility' has {len(visibility)} entries, expected {count}")
    values = []
    for index, value in enumerate(visibility):
        if isinstance(value, bool):
            value = int(value)
        if not _is_number(value) or value not in (0, 1):
            raise _RecordProblem(f"visibility[{index}] must be 0 or 1, got {value!r}")
        values.append(float(value))
    return np.asarray(values, np.float32)


def _parse_tf_blazepose_box(entry: dict[str, Any]) -> np.ndarray | None:
    """``bbox`` ``[[x1, y1], [x2, y2]]`` -> float32 [x1, y1, x2, y2], or None when absent."""
    bbox = entry.get("bbox")
    if bbox is None:
        return None
    if (not isinstance(bbox, list) or len(bbox) != 2
            or not all(isinstance(corner, list) and len(corner) == 2 for corner in bbox)):
        raise _RecordProblem(f"'bbox' must be [[x1, y1], [x2, y2]], got {bbox!r}")
    (x_min, y_min), (x_max, y_max) = (_finite_numbers(corner, "'bbox'") for corner in bbox)
    return _checked_box(x_min, y_min, x_max, y_max, "'bbox'")


def _parse_tf_blazepose(source: AnnotationFile, topology: Topology) -> SplitRecords:
    records, invalid = [], []
    file_name = str(source.path)
    for index, entry in enumerate(source.document):
        image = entry.get("image") if isinstance(entry, dict) else None
        image = image if isinstance(image, str) and image else None
        try:
            if not isinstance(entry, dict):
                raise _RecordProblem(f"expected a JSON object, got {entry!r}")
            if image is None:
                raise _RecordProblem("missing 'image' (the image file name)")
            keypoints, labelled = _parse_tf_blazepose_points(entry, topology)
            visibility = _parse_tf_blazepose_visibility(entry, topology.num_keypoints)
            box = _parse_tf_blazepose_box(entry)
        except _RecordProblem as problem:
            invalid.append(InvalidRecordError(file_name, index, image, str(problem)))
            continue
        records.append(_person_record(source, index, None, image, keypoints, visibility,
                                      labelled, box))
    return SplitRecords(source, records, invalid, {}, len(source.document))


def _person_record(source: AnnotationFile, index: int, annotation_id: Any, image: str,
                   keypoints: np.ndarray, visibility: np.ndarray, labelled: np.ndarray,
                   box: np.ndarray | None) -> PersonRecord:
    keypoints = np.where(labelled[:, None], keypoints, 0.0).astype(np.float32)
    visibility = np.where(labelled, visibility, 0.0).astype(np.float32)
    return PersonRecord(
        annotation_file=str(source.path), record_index=index, annotation_id=annotation_id,
        image_name=image, image_path=source.image_dir / image, image_id=image,
        keypoints=keypoints, visibility=visibility, labelled=labelled.astype(bool),
        person_box=box,
    )


# ---------------------------------------------------------------------------------------------
# COCO annotations
# ---------------------------------------------------------------------------------------------


COCO_KEYPOINT_OFFSET = 0.5
"""Added to COCO's keypoints, integer pixel indices (0-based, ``[0, W - 1]``), to get the
project's continuous pixel coordinates (pixel ``i`` spans ``[i, i + 1)``); COCO boxes are
continuous already. Detectron2's convention (``detectron2/data/datasets/coco.py``: +0.5 when
loading, -0.5 when writing results)."""


def _parse_coco_keypoints(annotation: dict[str, Any], topology: Topology
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keypoints float64 [K, 2] continuous pixels, i.e. COCO's + :data:`COCO_KEYPOINT_OFFSET`,
    visibility float32 [K], labelled bool [K])."""
    values = annotation["keypoints"]
    count = topology.num_keypoints
    if not isinstance(values, list) or len(values) != 3 * count:
        length = len(values) if isinstance(values, list) else type(values).__name__
        raise _RecordProblem(f"'keypoints' has {length} values, expected {3 * count} "
                             f"(x, y, v for each of the {count} keypoints of {topology.name})")
    triples = _finite_numbers(values, "'keypoints'").reshape(count, 3)
    flags = triples[:, 2]
    bad = [int(i) for i in np.flatnonzero(~np.isin(flags, _COCO_VISIBILITY_VALUES))]
    if bad:
        raise _RecordProblem(f"'keypoints' visibility flags must be 0, 1 or 2; keypoint {bad[0]} "
                             f"has {flags[bad[0]]:g}")
    labelled = flags > 0
    return triples[:, :2] + COCO_KEYPOINT_OFFSET, (flags == 2).astype(np.float32), labelled


def _parse_coco_box(annotation: dict[str, Any]) -> np.ndarray | None:
    """``bbox`` ``[x, y, width, height]`` -> float32 [x, y, x + width, y + height], or None."""
    bbox = annotation.get("bbox")
    if bbox is None or bbox == []:
        return None
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise _RecordProblem(f"'bbox' must be [x, y, width, height], got {bbox!r}")
    x, y, width, height = _finite_numbers(bbox, "'bbox'")
    return _checked_box(x, y, x + width, y + height, "'bbox'")


def _parse_coco(source: AnnotationFile, topology: Topology) -> SplitRecords:
    document = source.document
    file_name = str(source.path)
    images_by_id = {image["id"]: image for image in document["images"]
                    if isinstance(image, dict) and "id" in image}
    keypoint_category_ids = {c.get("id") for c in coco_keypoint_categories(source)}
    records, invalid = [], []
    ignored = dict.fromkeys(IGNORED_KINDS, 0)
    for index, annotation in enumerate(document["annotations"]):
        if not isinstance(annotation, dict):
            invalid.append(InvalidRecordError(file_name, index, None,
                                              f"expected a JSON object, got {annotation!r}"))
            continue
        annotation_id = annotation.get("id")
        if "keypoints" not in annotation or (
                keypoint_category_ids
                and annotation.get("category_id") not in keypoint_category_ids):
            ignored["other_category"] += 1
            continue
        if annotation.get("iscrowd"):
            ignored["crowd"] += 1
            continue
        image_entry = images_by_id.get(annotation.get("image_id"))
        image = image_entry.get("file_name") if image_entry else None
        image = image if isinstance(image, str) and image else None
        try:
            if image_entry is None:
                raise _RecordProblem(f"image_id {annotation.get('image_id')!r} is not in 'images'")
            if image is None:
                raise _RecordProblem(f"image {annotation.get('image_id')!r} has no 'file_name'")
            keypoints, visibility, labelled = _parse_coco_keypoints(annotation, topology)
            box = _parse_coco_box(annotation)
        except _RecordProblem as problem:
            invalid.append(InvalidRecordError(file_name, index, image, str(problem),
                                              annotation_id))
            continue
        if not labelled.any():
            ignored["no_labelled_points"] += 1
            continue
        records.append(_person_record(source, index, annotation_id, image, keypoints,
                                      visibility, labelled, box))
    return SplitRecords(source, records, invalid, ignored, len(document["annotations"]))


# ---------------------------------------------------------------------------------------------
# Records -> examples
# ---------------------------------------------------------------------------------------------


def parse_records(source: AnnotationFile, topology: Topology) -> SplitRecords:
    """Checks every record of ``source`` against ``topology`` without reading images."""
    if source.format == TF_BLAZEPOSE_FORMAT:
        return _parse_tf_blazepose(source, topology)
    return _parse_coco(source, topology)


def assign_image_ids(splits: Iterable[SplitRecords]) -> None:
    """Makes ``image_id`` unique over all splits.

    An image used by one record keeps its name (``001.jpg``). Records sharing an image get
    ``<name>#<split>:<record index>`` (COCO: ``<name>#<split>:ann<annotation id>`` when the
    annotation has an id), so ids stay stable when other records are skipped.
    """
    splits = list(splits)
    uses = collections.Counter(r.image_name for s in splits for r in s.records)
    for split in splits:
        for position, record in enumerate(split.records):
            if uses[record.image_name] == 1:
                continue
            suffix = (f"ann{record.annotation_id}" if record.annotation_id is not None
                      else str(record.record_index))
            split.records[position] = dataclasses.replace(
                record, image_id=f"{record.image_name}#{split.source.split}:{suffix}")


def _tf_error_text(error: tf.errors.OpError) -> str:
    """TF's error message without the op-location decorations."""
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", error.message)
    return re.sub(r"\s*\[Op:\w+\]\s*$", "", text).strip()


@dataclasses.dataclass(frozen=True)
class LoadedImage:
    """An image file read and decoded once.

    Attributes:
      image: the file's bytes when it is a 3-channel JPEG (stored as is), else the decoded
        uint8 ``[H, W, 3]`` RGB array (grey JPEG, PNG, BMP, GIF; stored re-encoded as JPEG).
      width: in pixels.
      height: in pixels.
    """

    image: bytes | np.ndarray
    width: int
    height: int


def load_image(record: PersonRecord) -> LoadedImage:
    """Reads and decodes the record's image file once.

    Raises:
      InvalidRecordError: the file is missing, unreadable or cannot be decoded.
    """
    path = record.image_path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise record.error(f"image file not found: {path}") from None
    except OSError as error:
        raise record.error(f"cannot read image file {path}: {error}") from None
    try:
        decoded = tf.io.decode_image(data, channels=3, expand_animations=False)
        is_rgb_jpeg = (data.startswith(_JPEG_MAGIC)
                       and int(tf.image.extract_jpeg_shape(data)[2]) == 3)
    except tf.errors.OpError as error:
        raise record.error(f"cannot decode image file {path}: {_tf_error_text(error)}") from None
    height, width = int(decoded.shape[0]), int(decoded.shape[1])
    if height == 0 or width == 0:
        raise record.error(f"image file {path} is empty ({width}x{height} pixels)")
    return LoadedImage(data if is_rgb_jpeg else decoded.numpy(), width, height)


def person_example(record: PersonRecord, topology: Topology, image: LoadedImage
                   ) -> dict[str, Any]:
    """The example dict (``datasets_tfds.common.pose_example``) of a record and its image.

    The person box is the file's box when it gives one, else the labelled keypoints' extent
    clipped to the image.

    Raises:
      InvalidRecordError: a labelled point or the file's box lies far outside the image
        (``datasets_tfds.common.out_of_image_problem``).
    """
    problem = out_of_image_problem(record.keypoints, record.labelled, record.person_box,
                                   image.width, image.height)
    if problem is not None:
        raise record.error(problem)
    box = record.person_box
    if box is None:
        box = box_from_keypoints(record.keypoints, record.labelled, image.width, image.height)
    return pose_example(image.image, record.image_id, record.keypoints, record.visibility,
                        record.labelled, box, topology)


def examples_by_image(records: Iterable[PersonRecord], topology: Topology
                      ) -> Iterator[tuple[PersonRecord, dict[str, Any] | InvalidRecordError]]:
    """(record, example) for each record, or (record, error) when its image is bad or its
    coordinates lie far outside the image.

    Records are grouped by image file, in order of first use, so that an image holding
    several people is read and decoded once.
    """
    by_image: dict[epath.Path, list[PersonRecord]] = {}
    for record in records:
        by_image.setdefault(record.image_path, []).append(record)
    for group in by_image.values():
        try:
            image = load_image(group[0])
        except InvalidRecordError as error:
            yield group[0], error
            for record in group[1:]:
                yield record, record.error(error.reason)
            continue
        for record in group:
            try:
                example: dict[str, Any] | InvalidRecordError = person_example(
                    record, topology, image)
            except InvalidRecordError as error:
                example = error
            yield record, example


def image_dir_for_split(image_dir: str | Mapping[str, str], split: str) -> str:
    """The image folder option for one split: a single folder or a split -> folder mapping."""
    if isinstance(image_dir, Mapping):
        return image_dir.get(split, DEFAULT_IMAGE_DIR)
    return image_dir
