"""yoga82: the Yoga-82 pose classification data set (images and 6/20/82-level labels).

Build (the manual dir holds the release's split files and the images you downloaded)::

    tfds build datasets_tfds/yoga82 --manual_dir=/path/to/Yoga-82 --data_dir=/path/to/out

One example per listed image that exists and decodes:

``image``       uint8 ``[H, W, 3]`` (JPEG; PNG, GIF and other files saved under a .jpg name are
                decoded by content and re-encoded)
``image_id``    the split file's path, e.g. ``"Akarna_Dhanurasana/16.jpg"``
``label_6``     ClassLabel, 6 body positions (names from the paper, see README.md)
``label_20``    ClassLabel, 20 variations of the body positions (names from the paper)
``label_82``    ClassLabel, 82 poses (names: the release's pose folder names)

There are no keypoints: the data set feeds pose *classification*
(``launch/classify_poses.py``). Many of the release's image links are dead, so images that are
missing or do not decode are counted and listed (log, and ``skipped`` in the DatasetInfo
metadata) instead of failing the build; see README.md.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from datasets_tfds.pose_builder import PoseBuilder

SPLIT_FILES = {"train": "yoga_train.txt", "test": "yoga_test.txt"}
"""Split name -> the release's split file (in the manual dir)."""

LINKS_DIR = "yoga_dataset_links"
"""The release's folder of per-pose link files (``<pose>.txt``: ``<pose>/<file>,<url>``)."""

MAX_LISTED_SKIPPED = 200
"""Skipped images listed by path per split in the metadata (all are counted)."""

LABEL_6_NAMES: tuple[str, ...] = (
    "standing", "sitting", "balancing", "inverted", "reclining", "wheel",
)
"""The 6 body positions, in label order (Yoga-82 paper, Fig. 2; see README.md)."""

LABEL_20_NAMES: tuple[str, ...] = (
    "standing_straight", "standing_forward_bend", "standing_side_bend", "standing_others",
    "sitting_legs_in_front", "sitting_legs_behind", "sitting_split", "sitting_forward_bend",
    "sitting_twist",
    "balancing_front", "balancing_side",
    "inverted_legs_straight_up", "inverted_legs_bent",
    "reclining_up_facing", "reclining_down_facing", "reclining_side_facing",
    "reclining_plank_balance",
    "wheel_up_facing", "wheel_down_facing", "wheel_others",
)  # fmt: skip
"""The 20 variations, in label order (Yoga-82 paper, Fig. 2; see README.md)."""

LABEL_82_NAMES: tuple[str, ...] = (
    "Akarna_Dhanurasana",
    "Bharadvaja's_Twist_pose_or_Bharadvajasana_I_",
    "Boat_Pose_or_Paripurna_Navasana_",
    "Bound_Angle_Pose_or_Baddha_Konasana_",
    "Bow_Pose_or_Dhanurasana_",
    "Bridge_Pose_or_Setu_Bandha_Sarvangasana_",
    "Camel_Pose_or_Ustrasana_",
    "Cat_Cow_Pose_or_Marjaryasana_",
    "Chair_Pose_or_Utkatasana_",
    "Child_Pose_or_Balasana_",
    "Cobra_Pose_or_Bhujangasana_",
    "Cockerel_Pose",
    "Corpse_Pose_or_Savasana_",
    "Cow_Face_Pose_or_Gomukhasana_",
    "Crane_(Crow)_Pose_or_Bakasana_",
    "Dolphin_Plank_Pose_or_Makara_Adho_Mukha_Svanasana_",
    "Dolphin_Pose_or_Ardha_Pincha_Mayurasana_",
    "Downward-Facing_Dog_pose_or_Adho_Mukha_Svanasana_",
    "Eagle_Pose_or_Garudasana_",
    "Eight-Angle_Pose_or_Astavakrasana_",
    "Extended_Puppy_Pose_or_Uttana_Shishosana_",
    "Extended_Revolved_Side_Angle_Pose_or_Utthita_Parsvakonasana_",
    "Extended_Revolved_Triangle_Pose_or_Utthita_Trikonasana_",
    "Feathered_Peacock_Pose_or_Pincha_Mayurasana_",
    "Firefly_Pose_or_Tittibhasana_",
    "Fish_Pose_or_Matsyasana_",
    "Four-Limbed_Staff_Pose_or_Chaturanga_Dandasana_",
    "Frog_Pose_or_Bhekasana",
    "Garland_Pose_or_Malasana_",
    "Gate_Pose_or_Parighasana_",
    "Half_Lord_of_the_Fishes_Pose_or_Ardha_Matsyendrasana_",
    "Half_Moon_Pose_or_Ardha_Chandrasana_",
    "Handstand_pose_or_Adho_Mukha_Vrksasana_",
    "Happy_Baby_Pose_or_Ananda_Balasana_",
    "Head-to-Knee_Forward_Bend_pose_or_Janu_Sirsasana_",
    "Heron_Pose_or_Krounchasana_",
    "Intense_Side_Stretch_Pose_or_Parsvottanasana_",
    "Legs-Up-the-Wall_Pose_or_Viparita_Karani_",
    "Locust_Pose_or_Salabhasana_",
    "Lord_of_the_Dance_Pose_or_Natarajasana_",
    "Low_Lunge_pose_or_Anjaneyasana_",
    "Noose_Pose_or_Pasasana_",
    "Peacock_Pose_or_Mayurasana_",
    "Pigeon_Pose_or_Kapotasana_",
    "Plank_Pose_or_Kumbhakasana_",
    "Plow_Pose_or_Halasana_",
    "Pose_Dedicated_to_the_Sage_Koundinya_or_Eka_Pada_Koundinyanasana_I_and_II",
    "Rajakapotasana",
    "Reclining_Hand-to-Big-Toe_Pose_or_Supta_Padangusthasana_",
    "Revolved_Head-to-Knee_Pose_or_Parivrtta_Janu_Sirsasana_",
    "Scale_Pose_or_Tolasana_",
    "Scorpion_pose_or_vrischikasana",
    "Seated_Forward_Bend_pose_or_Paschimottanasana_",
    "Shoulder-Pressing_Pose_or_Bhujapidasana_",
    "Side-Reclining_Leg_Lift_pose_or_Anantasana_",
    "Side_Crane_(Crow)_Pose_or_Parsva_Bakasana_",
    "Side_Plank_Pose_or_Vasisthasana_",
    "Sitting pose 1 (normal)",
    "Split pose",
    "Staff_Pose_or_Dandasana_",
    "Standing_Forward_Bend_pose_or_Uttanasana_",
    "Standing_Split_pose_or_Urdhva_Prasarita_Eka_Padasana_",
    "Standing_big_toe_hold_pose_or_Utthita_Padangusthasana",
    "Supported_Headstand_pose_or_Salamba_Sirsasana_",
    "Supported_Shoulderstand_pose_or_Salamba_Sarvangasana_",
    "Supta_Baddha_Konasana_",
    "Supta_Virasana_Vajrasana",
    "Tortoise_Pose",
    "Tree_Pose_or_Vrksasana_",
    "Upward_Bow_(Wheel)_Pose_or_Urdhva_Dhanurasana_",
    "Upward_Facing_Two-Foot_Staff_Pose_or_Dwi_Pada_Viparita_Dandasana_",
    "Upward_Plank_Pose_or_Purvottanasana_",
    "Virasana_or_Vajrasana",
    "Warrior_III_Pose_or_Virabhadrasana_III_",
    "Warrior_II_Pose_or_Virabhadrasana_II_",
    "Warrior_I_Pose_or_Virabhadrasana_I_",
    "Wide-Angle_Seated_Forward_Bend_pose_or_Upavistha_Konasana_",
    "Wide-Legged_Forward_Bend_pose_or_Prasarita_Padottanasana_",
    "Wild_Thing_pose_or_Camatkarasana_",
    "Wind_Relieving_pose_or_Pawanmuktasana",
    "Yogic_sleep_pose",
    "viparita_virabhadrasana_or_reverse_warrior_pose",
)
"""The 82 poses: the release's folder (and link file) names in code-point order, which is the
order of the 82-class label (README.md says how this is checked)."""

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Yoga-82 is released on request (a form on https://sites.google.com/view/yoga-82/home) as an
archive holding:

    yoga_train.txt                     the train split: one line per image,
                                       "<pose>/<file>.jpg,<label_6>,<label_20>,<label_82>"
    yoga_test.txt                      the test split, same format
    yoga_dataset_links/<pose>.txt      82 files: "<pose>/<file>.jpg,<image URL>" per line

The images are not in the archive: download each URL of yoga_dataset_links/<pose>.txt to
<pose>/<file>.jpg (the path before the comma), next to the two split files. Pass that folder
as the manual dir:

    MANUAL_DIR/yoga_train.txt
    MANUAL_DIR/yoga_test.txt
    MANUAL_DIR/Akarna_Dhanurasana/16.jpg, ...      (or under MANUAL_DIR/<image_dir>/ with the
                                                    config's image_dir)

Many links are dead; images that are missing or do not decode are skipped, counted and listed
(the build log and the 'skipped' metadata), not fatal.
"""


class SplitFileError(ValueError):
    """A malformed line in a split file (the file and line are named)."""


@dataclasses.dataclass(frozen=True)
class Record:
    """One line of a split file."""

    path: str
    label_6: int
    label_20: int
    label_82: int
    line: int


def parse_split_file(path: str | os.PathLike) -> list[Record]:
    """The records of ``yoga_train.txt`` / ``yoga_test.txt``.

    Raises:
      SplitFileError: a line is not ``<pose>/<file>,<int>,<int>,<int>``, a label is out of
        range, or the pose folder does not match ``label_82``'s name (naming file and line).
    """
    records = []
    text = epath.Path(path).read_bytes().decode("utf-8-sig")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.rsplit(",", 3)
        where = f"{path}: line {number}"
        if len(parts) != 4 or "/" not in parts[0]:
            raise SplitFileError(f"{where}: expected '<pose>/<file>,<label_6>,<label_20>,"
                                 f"<label_82>', got {raw!r}")
        try:
            labels = [int(part) for part in parts[1:]]
        except ValueError:
            raise SplitFileError(f"{where}: labels must be integers, got {raw!r}") from None
        for value, names, level in zip(labels, (LABEL_6_NAMES, LABEL_20_NAMES, LABEL_82_NAMES),
                                       (6, 20, 82)):
            if not 0 <= value < len(names):
                raise SplitFileError(f"{where}: label_{level} {value} is outside 0..{level - 1}")
        folder = parts[0].split("/", 1)[0]
        if folder != LABEL_82_NAMES[labels[2]]:
            raise SplitFileError(
                f"{where}: pose folder {folder!r} does not match label_82 {labels[2]} "
                f"({LABEL_82_NAMES[labels[2]]!r}); the 82 names are the release's folder names "
                "in code-point order (README.md)")
        records.append(Record(parts[0], labels[0], labels[1], labels[2], number))
    return records


def check_hierarchy(records: list[Record], source: str) -> dict[int, tuple[int, int]]:
    """label_82 -> (label_20, label_6), checking each pose has one parent at each level.

    Raises:
      SplitFileError: a pose listed under two different parents (first conflicting line named).
    """
    parents: dict[int, tuple[int, int, int]] = {}
    for record in records:
        seen = parents.setdefault(record.label_82, (record.label_20, record.label_6, record.line))
        if seen[:2] != (record.label_20, record.label_6):
            raise SplitFileError(
                f"{source}: line {record.line}: pose {LABEL_82_NAMES[record.label_82]!r} has "
                f"labels (20: {record.label_20}, 6: {record.label_6}) but line {seen[2]} gave "
                f"(20: {seen[0]}, 6: {seen[1]})")
    return {pose: value[:2] for pose, value in parents.items()}


def decode_image(data: bytes) -> np.ndarray:
    """uint8 ``[H, W, 3]`` from encoded bytes of any format TensorFlow reads (by content).

    Raises:
      ValueError: the bytes are not an image (e.g. an HTML error page saved as .jpg).
    """
    if not data:
        raise ValueError("empty file")
    try:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        reason = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", error.message.splitlines()[0]).strip()
        raise ValueError(f"not a decodable image ({reason})") from None
    array = image.numpy()
    if array.ndim != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"decoded to an unusable shape {array.shape}")
    return array


@dataclasses.dataclass(eq=False)
class Yoga82Config(tfds.core.BuilderConfig):
    """Options of the yoga82 builder.

    Attributes:
      image_dir: folder (relative to the manual dir, or absolute) the split files' paths are
        relative to; "" for the manual dir itself.
    """

    image_dir: str = ""


DEFAULT_CONFIG = Yoga82Config(name="default", description="The release's train and test split.")


class Builder(PoseBuilder):
    """DatasetBuilder for Yoga-82 from the manual dir: labels, no keypoints (``TOPOLOGY`` None)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Images with 6/20/82-level labels; missing images skipped."}
    BUILDER_CONFIGS = [DEFAULT_CONFIG]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
    CONFIG_CLASS = Yoga82Config
    HOMEPAGE = "https://sites.google.com/view/yoga-82/home"
    SUPERVISED_KEYS = ("image", "label_82")

    _skipped: dict[str, dict[str, Any]] | None = None

    def _features(self) -> tfds.features.FeaturesDict:
        return tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
            "image_id": tfds.features.Text(),
            "label_6": tfds.features.ClassLabel(names=LABEL_6_NAMES),
            "label_20": tfds.features.ClassLabel(names=LABEL_20_NAMES),
            "label_82": tfds.features.ClassLabel(names=LABEL_82_NAMES),
        })

    def _image_root(self, manual_dir: epath.Path) -> epath.Path:
        image_dir = self.typed_config.image_dir
        return manual_dir / image_dir if image_dir else manual_dir

    def _download_and_prepare(self, dl_manager: tfds.download.DownloadManager,
                              download_config: tfds.download.DownloadConfig) -> None:
        self._skipped = {}
        super()._download_and_prepare(dl_manager, download_config)
        self.info.metadata["skipped"] = self._skipped
        self._skipped = None

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        manual_dir = epath.Path(dl_manager.manual_dir)
        missing = [name for name in SPLIT_FILES.values() if not (manual_dir / name).exists()]
        if missing:
            raise FileNotFoundError(
                f"yoga82: missing {', '.join(missing)} in the manual dir {manual_dir} (looked for "
                f"{', '.join(os.fspath(manual_dir / name) for name in missing)}).\n"
                + _MANUAL_DOWNLOAD_INSTRUCTIONS)
        image_root = self._image_root(manual_dir)
        if not image_root.is_dir():
            raise FileNotFoundError(f"yoga82: image folder {image_root} does not exist "
                                    "(check the config's image_dir)")
        splits = {}
        for split, name in SPLIT_FILES.items():
            records = parse_split_file(manual_dir / name)
            check_hierarchy(records, os.fspath(manual_dir / name))
            splits[split] = self._generate_examples(split, records, image_root)
        return splits

    def _generate_examples(self, split: str, records: list[Record], image_root: epath.Path
                           ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yields (image path, example); missing and undecodable images are counted.

        Raises:
          FileNotFoundError: not one image of the split exists (nothing downloaded, or a wrong
            image_dir); TFDS cannot write an empty split.
        """
        report = {"listed": len(records), "written": 0, "missing": 0, "corrupt": 0,
                  "missing_paths": [], "corrupt_paths": [], "image_root": os.fspath(image_root)}
        if self._skipped is not None:
            self._skipped[split] = report
        seen = set()
        for record in records:
            if record.path in seen:  # a repeated line would repeat the TFDS key
                continue
            seen.add(record.path)
            path = image_root / record.path
            try:
                data = path.read_bytes()
            except (FileNotFoundError, IsADirectoryError):
                report["missing"] += 1
                if len(report["missing_paths"]) < MAX_LISTED_SKIPPED:
                    report["missing_paths"].append(record.path)
                continue
            try:
                image = decode_image(data)
            except ValueError as error:
                report["corrupt"] += 1
                if len(report["corrupt_paths"]) < MAX_LISTED_SKIPPED:
                    report["corrupt_paths"].append(f"{record.path}: {error}")
                continue
            report["written"] += 1
            yield record.path, {
                "image": image,
                "image_id": record.path,
                "label_6": record.label_6,
                "label_20": record.label_20,
                "label_82": record.label_82,
            }
        message = (f"yoga82: split {split!r}: {report['written']} of {report['listed']} listed "
                   f"images written; {report['missing']} missing, {report['corrupt']} corrupt "
                   f"(under {image_root})")
        if report["missing"] or report["corrupt"]:
            first = (report["missing_paths"] or report["corrupt_paths"])[0]
            logging.warning("%s; first skipped: %s", message, first)
        else:
            logging.info("%s", message)
        if not report["written"]:
            raise FileNotFoundError(
                f"yoga82: none of the {report['listed']} images listed for split {split!r} "
                f"exists and decodes under {image_root} (first looked for: "
                f"{image_root / records[0].path if records else '-'}). Download the images "
                f"(yoga_dataset_links/<pose>.txt) first.")
