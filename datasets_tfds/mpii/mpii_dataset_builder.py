"""mpii: MPII Human Pose, one example per annotated person, in the shared pose layout.

Build (the manual dir holds the data as MPII's archives extract; see README.md)::

    tfds build datasets_tfds/mpii --manual_dir=/path/to/mpii --data_dir=/path/to/out

Examples follow ``datasets_tfds.common`` with K = 16 in MPII's joint-id order (topology
``mpii_16``; its ``to_blazepose`` metadata maps 12 joints onto BlazePose's 33 landmarks, and
pelvis, thorax, upper neck and head top onto none). Keypoints, head boxes and ``objpos`` are in
continuous pixels (the file's 1-based MATLAB coordinates - 0.5). Extra features, the same in
both configs:

``head_box``                 float32 ``[4]`` x_min, y_min, x_max, y_max of the annotated head
                             rectangle (PCKh's normaliser: 0.6 x its diagonal); all 0 if absent.
``scale``                    float32: person height / 200 px; 0 if absent.
``objpos``                   float32 ``[2]``: rough person position; (0, 0) if absent.
``annolist_index``           int32: 0-based index of the image in ``RELEASE.annolist``.
``annorect_index``           int32: 0-based index of the person in the image's ``annorect``.
``in_single_person_subset``  bool: whether ``RELEASE.single_person`` lists the person.

``person_box`` is the square of side ``200 * scale`` centred on ``objpos``, or (without them)
the labelled joints' extent clipped to the image.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from blazepose.topology import MPII_16
from datasets_tfds.common import check_images_exist
from datasets_tfds.custom_pose.annotation_files import PersonRecord
from datasets_tfds.mpii.release_file import (
    ANNOTATION_FILE_NAME,
    MATLAB_TO_CONTINUOUS,
    MpiiImage,
    MpiiPerson,
    Release,
    read_release,
)
from datasets_tfds.mpii.splits import (
    TOMPSON,
    TOMPSON_FILE_CANDIDATES,
    VIDEO_HASH,
    SplitAssignment,
    assign_splits,
    find_tompson_file,
    read_tompson_validation,
)
from datasets_tfds.pose_builder import Example, PoseBuilder

ANNOTATION_FILE_CANDIDATES = (ANNOTATION_FILE_NAME,
                              f"mpii_human_pose_v1_u12_2/{ANNOTATION_FILE_NAME}")
"""Where the annotation file is looked for, relative to the manual dir (first found wins)."""

IMAGE_DIR = "images"
MAX_SKIPPED_IN_METADATA = 1000

_MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
MPII Human Pose is free for research use only (Simplified BSD licence for the annotations;
the images' copyright is not the authors'). From the download page
(http://human-pose.mpi-inf.mpg.de/#download, now
https://www.mpi-inf.mpg.de/departments/computer-vision-and-machine-learning/software-and-datasets/mpii-human-pose-dataset/download)
get and extract into the manual dir:

  mpii_human_pose_v1.tar.gz        images (12.9 GB)  -> MANUAL_DIR/{IMAGE_DIR}/*.jpg
  mpii_human_pose_v1_u12_2.zip     annotations       -> MANUAL_DIR/mpii_human_pose_v1_u12_2/
                                                        {ANNOTATION_FILE_NAME}
                                   (or put {ANNOTATION_FILE_NAME} directly in MANUAL_DIR)

Optional, for the validation split most papers use (Tompson et al., 2958 people), one of:
  detections.mat  Tompson et al.'s list (mpii_valid_pred.zip: mpii_predictions/data/
                  detections.mat; also github.com/bearpaw/pytorch-pose evaluation/data/)
                  -> MANUAL_DIR/detections.mat
  valid.h5        github.com/princeton-vl/pose-hg-train data/mpii/annot/valid.h5
                  -> MANUAL_DIR/valid.h5 or MANUAL_DIR/annot/valid.h5
Without either, validation is one video in ten by a fixed hash (README.md).
"""


@dataclasses.dataclass(eq=False)
class MpiiConfig(tfds.core.BuilderConfig):
    """Which people become examples, and how validation is chosen.

    Attributes:
      people: ``"single_person"``: the people ``RELEASE.single_person`` lists (MPII's
        single-person benchmark subset); ``"all"``: every person with joint annotations.
      validation_split: ``"auto"`` (``tompson`` when detections.mat or valid.h5 is in the
        manual dir, else ``video_hash``), ``"tompson"`` (one of them required) or
        ``"video_hash"``.
    """

    people: str = "single_person"
    validation_split: str = "auto"

    def __post_init__(self):
        if self.people not in ("single_person", "all"):
            raise ValueError(f"mpii config {self.name!r}: people must be 'single_person' or "
                             f"'all', got {self.people!r}")
        if self.validation_split not in ("auto", TOMPSON, VIDEO_HASH):
            raise ValueError(f"mpii config {self.name!r}: validation_split must be 'auto', "
                             f"'{TOMPSON}' or '{VIDEO_HASH}', got {self.validation_split!r}")


SINGLE_PERSON = MpiiConfig(
    name="single_person", people="single_person",
    description="The people of RELEASE.single_person (sufficiently separated individuals).")
MULTI_PERSON = MpiiConfig(
    name="multi_person", people="all",
    description="Every person with joint annotations, one example each.")


def mpii_features() -> dict[str, tfds.features.FeatureConnector]:
    """The MPII fields listed in the module docstring (beside ``pose_features(16)``)."""
    return {
        "head_box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
        "scale": tfds.features.Tensor(shape=(), dtype=np.float32),
        "objpos": tfds.features.Tensor(shape=(2,), dtype=np.float32),
        "annolist_index": tfds.features.Tensor(shape=(), dtype=np.int32),
        "annorect_index": tfds.features.Tensor(shape=(), dtype=np.int32),
        "in_single_person_subset": tfds.features.Tensor(shape=(), dtype=np.bool_),
    }


@dataclasses.dataclass(frozen=True)
class SourceFiles:
    """The files of the manual dir the build reads."""

    annotation_file: epath.Path
    image_dir: epath.Path
    tompson_file: epath.Path | None


def locate_files(manual_dir: epath.Path, config: MpiiConfig) -> SourceFiles:
    """Finds the annotation file, the image folder and (per config) the Tompson list.

    Raises:
      FileNotFoundError: something is missing; the message lists each missing item with the
        full paths where it was looked for.
    """
    annotation_file = next((manual_dir / name for name in ANNOTATION_FILE_CANDIDATES
                            if (manual_dir / name).is_file()), None)
    image_dir = manual_dir / IMAGE_DIR
    tompson_file = None if config.validation_split == VIDEO_HASH else find_tompson_file(
        manual_dir)
    missing = []
    if annotation_file is None:
        looked = " or ".join(str(manual_dir / name) for name in ANNOTATION_FILE_CANDIDATES)
        missing.append(f"{looked} (annotations, from mpii_human_pose_v1_u12_2.zip)")
    if not image_dir.is_dir():
        missing.append(f"{image_dir} (image folder, from mpii_human_pose_v1.tar.gz)")
    if config.validation_split == TOMPSON and tompson_file is None:
        looked = " or ".join(str(manual_dir / name) for name in TOMPSON_FILE_CANDIDATES)
        missing.append(f"{looked} (Tompson et al.'s validation list, needed by "
                       f"validation_split='{TOMPSON}')")
    if missing:
        raise FileNotFoundError(f"mpii: missing in the manual dir {manual_dir}:\n  "
                                + "\n  ".join(missing)
                                + "\nSee MANUAL_DOWNLOAD_INSTRUCTIONS "
                                  "(datasets_tfds/mpii/README.md).")
    return SourceFiles(annotation_file, image_dir, tompson_file)


def assign(release: Release, files: SourceFiles) -> SplitAssignment:
    """Train/validation people of ``release`` by the policy ``files`` allows."""
    if files.tompson_file is None:
        return assign_splits(release, None, "sha256(YouTube id or image name) % 10 == 0")
    pairs = read_tompson_validation(files.tompson_file, release)
    return assign_splits(release, pairs, str(files.tompson_file))


def _record(image: MpiiImage, person: MpiiPerson, files: SourceFiles) -> PersonRecord:
    return PersonRecord(
        annotation_file=str(files.annotation_file), record_index=image.annolist_index,
        annotation_id=None, image_name=image.name, image_path=files.image_dir / image.name,
        image_id=f"{image.name}#{person.annorect_index}", keypoints=person.keypoints,
        visibility=person.visibility, labelled=person.labelled, person_box=person.person_box(),
    )


def mpii_fields(person: MpiiPerson) -> dict[str, Any]:
    """The extra features of one person (see the module docstring)."""
    return {
        "head_box": person.head_box,
        "scale": np.float32(person.scale or 0.0),
        "objpos": np.zeros(2, np.float32) if person.objpos is None else person.objpos,
        "annolist_index": np.int32(person.annolist_index),
        "annorect_index": np.int32(person.annorect_index),
        "in_single_person_subset": person.in_single_person_subset,
    }


class Builder(PoseBuilder):
    """DatasetBuilder for MPII Human Pose from the files in the manual dir."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "MPII Human Pose v1 (u12_1 annotations), single/multi person."}
    BUILDER_CONFIGS = [SINGLE_PERSON, MULTI_PERSON]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
    CONFIG_CLASS = MpiiConfig
    TOPOLOGY = MPII_16
    HOMEPAGE = "http://human-pose.mpi-inf.mpg.de/"
    EXTRA_METADATA = {"keypoint_offset_from_file": MATLAB_TO_CONTINUOUS}

    def _extra_features(self) -> dict[str, tfds.features.FeatureConnector]:
        return mpii_features()

    def _split_sources(self, manual_dir: epath.Path
                       ) -> dict[str, list[tuple[PersonRecord, MpiiPerson]]]:
        files = locate_files(manual_dir, self.typed_config)
        release = read_release(files.annotation_file)
        assignment = assign(release, files)
        wanted = {split: [(image, person) for image, person in people
                          if self.typed_config.people == "all" or person.in_single_person_subset]
                  for split, people in assignment.splits.items()}
        check_images_exist("mpii", files.image_dir,
                           [image.name for people in wanted.values() for image, _ in people])
        self._record_metadata(release, assignment, wanted)
        sources = {}
        for split, people in wanted.items():
            if people:
                sources[split] = [(_record(image, person, files), person)
                                  for image, person in people]
            else:
                logging.warning("mpii: split %r has no person under the %s policy; left out",
                                split, assignment.policy)
        if not sources:
            raise ValueError(f"mpii: no annotated person in {files.annotation_file}")
        return sources

    def _record_metadata(self, release: Release, assignment: SplitAssignment,
                         wanted: dict[str, list[tuple[MpiiImage, MpiiPerson]]]) -> None:
        """Split policy and skipped people, into the DatasetInfo metadata and the log."""
        split_summary = assignment.summary()
        split_summary["examples"] = {split: len(people) for split, people in wanted.items()}
        self.info.metadata["split"] = split_summary
        self.info.metadata["annorects_without_joints"] = release.annorects_without_joints
        self.info.metadata["unusable_vididx"] = release.unusable_vididx
        self.info.metadata["skipped_people"] = {
            "count": len(release.skipped),
            "listed": [person.as_dict() for person in release.skipped[:MAX_SKIPPED_IN_METADATA]],
        }
        logging.info("mpii: %s split (%s): %s", assignment.policy, assignment.source,
                     split_summary["examples"])
        if release.skipped:
            logging.warning("mpii: %d annotated person(s) of %s could not be read and are "
                            "skipped (metadata 'skipped_people'); first: %s",
                            len(release.skipped), release.path, release.skipped[0])

    def _generate_examples(self, people: list[tuple[PersonRecord, MpiiPerson]]
                           ) -> Iterator[Example]:
        """Yields (image_id, example); each image is read and decoded once.

        Raises:
          InvalidRecordError: an image cannot be read or decoded (names the annotation file,
            the annolist index and the image).
        """
        by_id = {record.image_id: person for record, person in people}
        return self._record_examples([record for record, _ in people],
                                     lambda record, _: mpii_fields(by_id[record.image_id]))
