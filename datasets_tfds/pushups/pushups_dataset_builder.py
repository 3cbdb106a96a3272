"""pushups: tf-blazepose's push-up frames (7 points per frame) in the shared pose layout.

Build (the data folder, with labels/ and images/, is the manual dir; see README.md)::

    tfds build datasets_tfds/pushups --manual_dir=/path/to/pushup --data_dir=/path/to/out
    tfds build datasets_tfds/pushups --config=tf_blazepose --manual_dir=... --data_dir=...

Each example is one frame (``datasets_tfds.common``, ``pose_features(7)``): keypoints float32
``[7, 2]`` in ``PUSHUP_7`` order, pixels as written in the label file (read as the shared
layout's continuous coordinates, no shift, as custom_pose reads tf-blazepose's files);
visibility float32 ``[7]`` and labelled bool ``[7]`` all 1 (the files carry no visibility and
tf-blazepose sets it to 1); person_box float32 ``[4]`` the whole frame, as tf-blazepose's
``tools/process_pushup_data.py`` sets it (its 7 points cover arms and head only).

Splits keep every frame of a video together: ``video_hash`` (default) by a hash of the video
id, ``tf_blazepose`` by tf-blazepose's video-number ranges. Reading and split rules live in
``label_files``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from blazepose.topology import PUSHUP_7
from datasets_tfds.common import pose_example
from datasets_tfds.custom_pose.annotation_files import PersonRecord, load_image
from datasets_tfds.pose_builder import Example, PoseBuilder
from datasets_tfds.pushups import label_files

MAX_LISTED_SKIPPED = 1000
"""Skipped label files listed by name in the metadata (all are counted)."""

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
The push-up data set was never published (tf-blazepose's README: no permission to publish it).
Pass the folder that tf-blazepose's tools read as data/pushup:

    MANUAL_DIR/labels/<image>.json   one per frame: a JSON list of 7 [x, y] points (right wrist,
                                     right elbow, right shoulder, head top, left shoulder, left
                                     elbow, left wrist), pixels of the frame
    MANUAL_DIR/images/<image>        the frames, named <video>_<frame>.<ext> (12_0034.jpg is
                                     labelled by labels/12_0034.jpg.json)

Labels named <video>_<frame>.json (no image extension) are matched to <video>_<frame>.jpg,
.jpeg or .png; images may also lie beside the label files.
"""

VIDEO_HASH = tfds.core.BuilderConfig(
    name=label_files.VIDEO_HASH,
    description="Split by video: sha256(video id) % 10 == 0 test, == 1 validation, else train.",
)
# Not listed (Builder.UNLISTED_CONFIGS): `tfds build` without --config builds every listed config,
# and this one needs integer video ids; --config=tf_blazepose finds it.
TF_BLAZEPOSE = tfds.core.BuilderConfig(
    name=label_files.TF_BLAZEPOSE,
    description="tf-blazepose's split: video < 480 train, 480-549 validation, >= 550 test.",
)


class Builder(PoseBuilder):
    """DatasetBuilder for tf-blazepose's push-up frames in the manual dir (README.md)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Per-frame JSON labels; video-hash and tf-blazepose splits."}
    UNLISTED_CONFIGS = (TF_BLAZEPOSE,)
    BUILDER_CONFIGS = [VIDEO_HASH]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
    TOPOLOGY = PUSHUP_7
    HOMEPAGE = "https://github.com/vietanhdev/tf-blazepose"

    def _split_sources(self, manual_dir: epath.Path) -> dict[str, list[label_files.Frame]]:
        scan = label_files.scan_frames(manual_dir, self.name)
        rule = label_files.SPLIT_RULES[self.builder_config.name]
        splits = label_files.assign_splits(scan.frames, rule)
        if not splits:
            raise ValueError(f"{self.name}: every label file in {scan.labels_dir} was skipped "
                             f"({scan.skipped[0][0]}: {scan.skipped[0][1]}, ...)")
        if scan.skipped:
            logging.warning("%s: %d label file(s) skipped for not holding %d points, as "
                            "tf-blazepose does; first: %s (%s)", self.name, len(scan.skipped),
                            label_files.NUM_POINTS, *scan.skipped[0])
        for split in ("train", "validation", "test"):
            if split not in splits:
                logging.warning("%s: no video falls in split %r; it is left out.", self.name,
                                split)
        self.info.metadata["source"] = {
            "split_policy": self.builder_config.description,
            "frames": {split: len(frames) for split, frames in splits.items()},
            "videos": {split: len({f.video for f in frames}) for split, frames in splits.items()},
            "label_files_skipped": len(scan.skipped),
            "skipped": [{"file": name, "reason": reason}
                        for name, reason in scan.skipped[:MAX_LISTED_SKIPPED]],
        }
        return splits

    def _generate_examples(self, frames: Sequence[label_files.Frame]) -> Iterator[Example]:
        """Yields (image name, example); each frame is read and decoded once.

        Raises:
          InvalidRecordError: a frame cannot be read or decoded (naming its label file).
        """
        for index, frame in enumerate(frames):
            record = PersonRecord(
                annotation_file=str(frame.label_path), record_index=index, annotation_id=None,
                image_name=frame.image_name, image_path=frame.image_path,
                image_id=frame.image_name, keypoints=frame.points,
                visibility=[1.0] * PUSHUP_7.num_keypoints,
                labelled=[True] * PUSHUP_7.num_keypoints, person_box=None)
            image = load_image(record)
            yield frame.image_name, pose_example(
                image.image, frame.image_name, frame.points, record.visibility, record.labelled,
                [0.0, 0.0, image.width, image.height], PUSHUP_7)
