"""coco_keypoints: COCO 2017 person keypoints, one example per annotated person.

Build (the manual dir holds COCO 2017 as its zips extract; see README.md)::

    tfds build datasets_tfds/coco_keypoints --manual_dir=/path/to/coco --data_dir=/path/to/out

Examples follow ``datasets_tfds.common`` with K = 17 in COCO's order (topology ``coco_17``,
all 17 mapped onto BlazePose's 33 landmarks by ``to_blazepose`` in the metadata): one per
person annotation with at least one labelled keypoint; crowd regions and annotations without
labelled keypoints are not examples (counted in the metadata). Keypoints are COCO's pixel
indices + 0.5 (continuous pixels), ``person_box`` is COCO's ``bbox`` as x_min, y_min, x_max,
y_max. Extra features, enough to write pycocotools results and evaluate against the original
annotation file (``person_keypoints.keypoint_result`` undoes the +0.5):

``annotation_id``   int64: the annotation's ``id``.
``coco_image_id``   int64: the annotation's ``image_id``.
``area``            float32: the annotation's ``area`` (segment area; OKS scale is its root).
``num_keypoints``   int32: the annotation's ``num_keypoints`` (labelled points).
``iscrowd``         int32: the annotation's ``iscrowd`` (0 for every example).
``image_width``     int32: the image's ``width`` in the annotation file.
``image_height``    int32: the image's ``height``.

Splits: train2017 -> ``train``, val2017 -> ``validation``. Without the train annotation file
only ``validation`` is built (logged, and noted in the metadata).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from blazepose.topology import COCO_17
from datasets_tfds.coco_keypoints.person_keypoints import (
    KEYPOINT_OFFSET,
    CocoSplit,
    locate_splits,
    read_split,
)
from datasets_tfds.common import check_images_exist
from datasets_tfds.custom_pose.annotation_files import PersonRecord
from datasets_tfds.pose_builder import Example, PoseBuilder

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
From https://cocodataset.org/#download (annotations: CC BY 4.0; images: Flickr terms of use,
see https://cocodataset.org/#termsofuse) download and extract into the manual dir:

  http://images.cocodataset.org/annotations/annotations_trainval2017.zip
      -> MANUAL_DIR/annotations/person_keypoints_train2017.json
         MANUAL_DIR/annotations/person_keypoints_val2017.json
  http://images.cocodataset.org/zips/train2017.zip  -> MANUAL_DIR/train2017/*.jpg  (18 GB)
  http://images.cocodataset.org/zips/val2017.zip    -> MANUAL_DIR/val2017/*.jpg    (1 GB)

Without person_keypoints_train2017.json only the validation split is built.
"""


def coco_features() -> dict[str, tfds.features.FeatureConnector]:
    """The COCO fields listed in the module docstring (beside ``pose_features(17)``)."""
    return {
        "annotation_id": tfds.features.Tensor(shape=(), dtype=np.int64),
        "coco_image_id": tfds.features.Tensor(shape=(), dtype=np.int64),
        "area": tfds.features.Tensor(shape=(), dtype=np.float32),
        "num_keypoints": tfds.features.Tensor(shape=(), dtype=np.int32),
        "iscrowd": tfds.features.Tensor(shape=(), dtype=np.int32),
        "image_width": tfds.features.Tensor(shape=(), dtype=np.int32),
        "image_height": tfds.features.Tensor(shape=(), dtype=np.int32),
    }


def _stored_size(image: Any) -> tuple[int, int]:
    """(width, height) of an example's image: JPEG bytes (header only) or a decoded array."""
    if isinstance(image, bytes):
        height, width = (int(v) for v in tf.image.extract_jpeg_shape(image)[:2])
        return width, height
    return int(image.shape[1]), int(image.shape[0])


class Builder(PoseBuilder):
    """DatasetBuilder for COCO 2017 person keypoints from the files in the manual dir."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "COCO 2017 person keypoints, one example per person."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
    TOPOLOGY = COCO_17
    HOMEPAGE = "https://cocodataset.org/#keypoints-2017"
    EXTRA_METADATA = {"keypoint_offset_from_file": KEYPOINT_OFFSET}

    def _extra_features(self) -> dict[str, tfds.features.FeatureConnector]:
        return coco_features()

    def _split_sources(self, manual_dir: epath.Path) -> dict[str, CocoSplit]:
        sources, absent = locate_splits(manual_dir)
        for split, reason in absent.items():
            logging.warning("coco_keypoints: split %r is not built: %s", split, reason)
        splits = [read_split(manual_dir, source) for source in sources]
        for split in splits:
            check_images_exist("coco_keypoints", manual_dir / split.source.image_dir,
                               [record.image_name for record in split.records])
        self.info.metadata["splits_not_built"] = absent
        self.info.metadata["annotations"] = {s.source.split: s.summary() for s in splits}
        for split in splits:
            logging.info("coco_keypoints: %s: %s", split.source.split, split.summary())
            if split.num_keypoints_mismatches:
                logging.warning("coco_keypoints: %d annotation(s) of %s have a num_keypoints "
                                "different from their labelled points; the file's value is kept",
                                split.num_keypoints_mismatches, split.source.annotation_file)
        empty = [split.source.annotation_file for split in splits if not split.records]
        if empty:
            raise ValueError(f"coco_keypoints: no usable person annotation in {', '.join(empty)}")
        return {split.source.split: split for split in splits}

    def _generate_examples(self, split: CocoSplit) -> Iterator[Example]:
        """Yields (image_id, example); each image is read and decoded once.

        Raises:
          InvalidRecordError: an image cannot be read or decoded, or its size differs from the
            annotation file's (names the file, the annotation and the image).
        """

        def fields(record: PersonRecord, example: dict[str, Any]) -> dict[str, Any]:
            fields = split.fields[record.image_id]
            size = _stored_size(example["image"])
            if size != (int(fields["image_width"]), int(fields["image_height"])):
                raise record.error(f"image {record.image_path} is {size[0]}x{size[1]} pixels, "
                                   f"the annotation file says {int(fields['image_width'])}x"
                                   f"{int(fields['image_height'])}")
            return fields

        return self._record_examples(split.records, fields)
