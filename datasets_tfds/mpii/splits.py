"""Train / validation split of MPII Human Pose's annotated (``img_train == 1``) people.

MPII withholds the joints of its test images, so both splits come from the training images.
Two deterministic policies:

``tompson``
    The validation people of Tompson et al. (CVPR 2015), the split most MPII results are
    reported on: 2958 people on 2729 images. Read from either file that lists them:

    * ``detections.mat``, Tompson et al.'s own file (``mpii_valid_pred.zip``:
      ``mpii_predictions/data/detections.mat``; also in bearpaw/pytorch-pose
      ``evaluation/data/detections.mat``): ``RELEASE_img_index`` and ``RELEASE_person_index``,
      1-based ``annolist`` and ``annorect`` indices (as CPM's ``training/genJSON.m`` uses them);
    * ``valid.h5`` of Newell et al.'s pose-hg-train (``data/mpii/annot/valid.h5``): datasets
      ``index`` and ``person``, the same people 0-based (``src/misc/convert_annot.py`` writes
      them, anibali/eval-mpii-pose ``evalMPII.m`` adds 1), and ``imgname``, checked against the
      annotation file.

    Listed people are validation. The other people of those images are left out of both
    splits (as bearpaw/pytorch-pose's ``miscs/gen_mpii.m`` does; CPM's original ``genJSON.m``
    trains on them), so no image is in both. All other people are train.

``video_hash``
    Needs no extra file: an image belongs to validation when
    ``int(sha256(key).hexdigest(), 16) % 10 == 0``, where ``key`` is the UTF-8 YouTube id of
    the image's video (``video_list(vididx)``), or the image file name when it has none. About
    one video in ten is validation (close to the Tompson split's share), and frames of one
    video never straddle the splits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Iterable

import numpy as np
from etils import epath

from datasets_tfds.mpii.release_file import MpiiImage, MpiiPerson, Release

__all__ = [
    "TOMPSON",
    "TOMPSON_FILE_CANDIDATES",
    "VALIDATION_BUCKETS",
    "VIDEO_HASH",
    "SplitAssignment",
    "SplitFileError",
    "assign_splits",
    "find_tompson_file",
    "hash_key",
    "is_validation_key",
    "read_tompson_validation",
]

TOMPSON = "tompson"
VIDEO_HASH = "video_hash"

TOMPSON_FILE_CANDIDATES = ("valid.h5", "annot/valid.h5", "detections.mat",
                           "mpii_predictions/data/detections.mat")
"""Where, relative to the manual dir, the Tompson validation list is looked for (first wins)."""

VALIDATION_BUCKETS = 10
"""``video_hash``: one hash bucket in this many is validation."""


class SplitFileError(ValueError):
    """The validation list is unreadable or does not match the annotation file."""


def hash_key(image: MpiiImage) -> str:
    """The ``video_hash`` key: the image's YouTube video id, else its file name."""
    return image.video_id if image.video_id is not None else image.name


def is_validation_key(key: str) -> bool:
    """``video_hash`` rule: sha256 of the UTF-8 key, as an integer, modulo 10 is 0."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % VALIDATION_BUCKETS == 0


def find_tompson_file(manual_dir: epath.Path) -> epath.Path | None:
    """The first of :data:`TOMPSON_FILE_CANDIDATES` that exists in ``manual_dir``, or None."""
    for candidate in TOMPSON_FILE_CANDIDATES:
        path = manual_dir / candidate
        if path.is_file():
            return path
    return None


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _read_valid_h5(path: epath.Path) -> tuple[list[int], list[int], list[str] | None]:
    """(0-based image indices, 0-based person indices, image names or None) of valid.h5."""
    import h5py  # installed with Keras

    try:
        with h5py.File(io.BytesIO(path.read_bytes()), "r") as file:
            if "index" not in file or "person" not in file:
                raise SplitFileError(f"{path}: expected datasets 'index' and 'person' "
                                     f"(found {', '.join(file.keys())})")
            indices = [int(i) for i in file["index"][()].reshape(-1)]
            people = [int(p) for p in file["person"][()].reshape(-1)]
            names = ([_text(n) for n in file["imgname"][()].reshape(-1)]
                     if "imgname" in file else None)
    except OSError as error:
        raise SplitFileError(f"{path}: not a readable HDF5 file ({error})") from None
    return indices, people, names


def _read_detections_mat(path: epath.Path) -> tuple[list[int], list[int], None]:
    """(0-based image indices, 0-based person indices, None) of Tompson's detections.mat."""
    import scipy.io  # only the MPII builder needs scipy

    names = ["RELEASE_img_index", "RELEASE_person_index"]
    try:
        contents = scipy.io.loadmat(io.BytesIO(path.read_bytes()), variable_names=names)
    except (ValueError, TypeError, NotImplementedError) as error:
        raise SplitFileError(f"{path}: not a readable MATLAB file ({error})") from None
    if any(name not in contents for name in names):
        raise SplitFileError(f"{path}: expected variables {' and '.join(names)}")
    indices, people = (np.asarray(contents[name]).reshape(-1) for name in names)
    return [int(i) - 1 for i in indices], [int(p) - 1 for p in people], None


def read_tompson_validation(path: epath.Path, release: Release) -> set[tuple[int, int]]:
    """(annolist index, annorect index) pairs, 0-based, listed by ``valid.h5`` or
    ``detections.mat`` (told apart by the file name's suffix).

    Raises:
      SplitFileError: the file lacks the index datasets/variables, they differ in length, an
        index is outside the annotation file, or ``imgname`` disagrees with it.
    """
    if path.suffix == ".mat":
        indices, people, names = _read_detections_mat(path)
    else:
        indices, people, names = _read_valid_h5(path)
    if len(indices) != len(people) or (names is not None and len(names) != len(indices)):
        raise SplitFileError(f"{path}: the image and person index lists differ in length")
    pairs = set()
    for row, (index, person) in enumerate(zip(indices, people)):
        if not 0 <= index < len(release.images) or person < 0:
            raise SplitFileError(f"{path}: row {row}: image {index}, person {person} (0-based) "
                                 f"is outside the {len(release.images)} images of {release.path}")
        image = release.images[index]
        if names is not None and names[row] != image.name:
            raise SplitFileError(f"{path}: row {row}: imgname {names[row]!r}, but "
                                 f"{release.path} has {image.name!r} at index {index}")
        pairs.add((index, person))
    return pairs


@dataclasses.dataclass(frozen=True)
class SplitAssignment:
    """People per split, and what the policy left out.

    Attributes:
      policy: ``tompson`` or ``video_hash``.
      source: the split file, or a description of the rule.
      splits: ``{"train": [...], "validation": [...]}``, (image, person) in file order.
      left_out: people of training images in neither split (tompson: the unlisted people of
        validation images).
      listed_without_joints: tompson: listed (index, person) pairs that are not a readable
        person with joints (e.g. no annopoints), so no example.
    """

    policy: str
    source: str
    splits: dict[str, list[tuple[MpiiImage, MpiiPerson]]]
    left_out: int
    listed_without_joints: int

    def summary(self) -> dict[str, object]:
        """JSON-ready description for the DatasetInfo metadata."""
        return {
            "policy": self.policy,
            "source": self.source,
            "people": {split: len(people) for split, people in self.splits.items()},
            "left_out": self.left_out,
            "listed_without_joints": self.listed_without_joints,
        }


def assign_splits(release: Release, tompson_pairs: Iterable[tuple[int, int]] | None,
                  source: str) -> SplitAssignment:
    """Splits every readable person of ``release`` by ``tompson_pairs`` (or ``video_hash``
    when None); ``source`` describes where the pairs came from."""
    splits: dict[str, list[tuple[MpiiImage, MpiiPerson]]] = {"train": [], "validation": []}
    if tompson_pairs is None:
        for image, person in release.people():
            split = "validation" if is_validation_key(hash_key(image)) else "train"
            splits[split].append((image, person))
        return SplitAssignment(VIDEO_HASH, source, splits, 0, 0)
    pairs = set(tompson_pairs)
    validation_images = {index for index, _ in pairs}
    left_out = 0
    found = set()
    for image, person in release.people():
        key = (image.annolist_index, person.annorect_index)
        if key in pairs:
            splits["validation"].append((image, person))
            found.add(key)
        elif image.annolist_index in validation_images:
            left_out += 1
        else:
            splits["train"].append((image, person))
    return SplitAssignment(TOMPSON, source, splits, left_out, len(pairs - found))
