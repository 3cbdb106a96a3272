"""Reading the Leeds Sports Pose data sets, shared by the ``lsp`` and ``lspet`` builders.

Both releases hold one MATLAB file ``joints.mat`` with a numeric array ``joints`` and a folder
``images/`` of JPEGs. What differs (sources in ``datasets_tfds/lsp/README.md`` and
``datasets_tfds/lspet/README.md``):

=================  ==================================  ======================================
                   LSP (``lsp_dataset.zip``)           LSP Extended (``lspet_dataset.zip``)
=================  ==================================  ======================================
``joints`` shape   3 x 14 x 2000: ``joints(:, j, i)``  14 x 3 x 10000: ``joints(j, :, i)``
                   is (x, y, flag) of joint j, image i is (x, y, flag) of joint j, image i
flag               0 visible, 1 occluded (the joint    1 visible, 0 not annotated (annotators
                   still has a position)               placed visible joints only)
missing joints     none                                flag 0, coordinates often markers
                                                       (x <= 0 and y <= 0)
images             ``im0001.jpg`` .. ``im2000.jpg``    ``im00001.jpg`` .. ``im10000.jpg``
=================  ==================================  ======================================

Joint j is ``blazepose.topology.LSP_14``'s keypoint j (right ankle .. head top) in both.

Coordinates are pixels written by MATLAB tools, taken as MATLAB's 1-based image convention
(pixel ``k`` centred on ``k``); they become the project's continuous coordinates (pixel ``i``
spans ``[i, i + 1)``) by adding :data:`MATLAB_TO_CONTINUOUS` (-0.5), as the MPII builder does.

Everything here is plain numpy and file reading; the builders turn the records into examples
(``datasets_tfds.pose_builder.PoseBuilder``).
"""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from absl import logging
from etils import epath

from blazepose.topology import LSP_14
from datasets_tfds.custom_pose.annotation_files import PersonRecord

__all__ = [
    "IMAGES_DIR",
    "JOINTS_FILE",
    "LSP",
    "LSPET",
    "MATLAB_TO_CONTINUOUS",
    "TF_BLAZEPOSE_EXPECTED_KEPT",
    "TF_BLAZEPOSE_HOLDOUT",
    "TF_BLAZEPOSE_SEED",
    "DecodedJoints",
    "LeedsSource",
    "LeedsVariant",
    "MissingSourceFilesError",
    "SplitPlan",
    "decode_joints",
    "load_source",
    "original_split",
    "parse_joints",
    "person_records",
    "plan_original",
    "plan_tf_blazepose_merged",
    "tf_blazepose_kept_indices",
    "tf_blazepose_split",
]

JOINTS_FILE = "joints.mat"
"""The annotation file of both releases; its MATLAB variable is ``joints``."""

IMAGES_DIR = "images"
"""The image folder of both releases, beside ``joints.mat``."""

NUM_JOINTS = LSP_14.num_keypoints

MATLAB_TO_CONTINUOUS = -0.5
"""Added to the file's 1-based MATLAB pixel coordinates to get continuous coordinates."""

MAX_LISTED_MISSING = 10
"""Missing images named in an error message (all are counted)."""

TF_BLAZEPOSE_SEED = 42
"""``random.seed`` of tf-blazepose's ``tools/split_lsp_lspet.py`` before it shuffles a source."""

TF_BLAZEPOSE_HOLDOUT = 100
"""Validation and test images per source in tf-blazepose's split (100 + 100 of each)."""

TF_BLAZEPOSE_EXPECTED_KEPT = {"LSP": 2000, "LSPET": 3939}
"""Images per source that pass tf-blazepose's filter on the released files (DATASET.md: 1800 +
100 + 100 of LSP, 3739 + 100 + 100 of LSPET, "6061 images removed from LSPET")."""


class MissingSourceFilesError(FileNotFoundError):
    """Files of the manual dir that the build needs are missing; the message lists them."""


@dataclasses.dataclass(frozen=True)
class LeedsVariant:
    """The facts that tell the two releases apart.

    Attributes:
      name: ``"LSP"`` or ``"LSPET"``.
      folder: the folder the release is usually extracted into (``lsp_dataset``), looked for
        inside the manual dir.
      archive: the archive's file name, for messages.
      homepage: where the archive is offered.
      joints_shape: the leading two dimensions of ``joints`` (the third counts images).
      image_digits: digits of the 1-based image number in file names (``im0001.jpg``: 4).
      released_images: images in the released file.
      visible_flag: the flag value that means "visible".
      hidden_joints_located: whether joints without the visible flag still have a position
        (LSP: occluded joints were placed; LSPET: only visible joints were annotated).
    """

    name: str
    folder: str
    archive: str
    homepage: str
    joints_shape: tuple[int, int]
    image_digits: int
    released_images: int
    visible_flag: int
    hidden_joints_located: bool

    def image_name(self, index: int) -> str:
        """File name of the image with 0-based ``index`` (LSP: 0 -> ``im0001.jpg``)."""
        return f"im{index + 1:0{self.image_digits}d}.jpg"

    @property
    def shape_text(self) -> str:
        """``3x14xN`` or ``14x3xN``."""
        return "x".join(str(d) for d in self.joints_shape) + "xN"


LSP = LeedsVariant(
    name="LSP",
    folder="lsp_dataset",
    archive="lsp_dataset.zip",
    homepage="http://sam.johnson.io/research/lsp.html",
    joints_shape=(3, NUM_JOINTS),
    image_digits=4,
    released_images=2000,
    visible_flag=0,
    hidden_joints_located=True,
)
"""Leeds Sports Pose: 2,000 images, ``joints`` 3 x 14 x 2000, flag 1 = occluded."""

LSPET = LeedsVariant(
    name="LSPET",
    folder="lspet_dataset",
    archive="lspet_dataset.zip",
    homepage="http://sam.johnson.io/research/lspet.html",
    joints_shape=(NUM_JOINTS, 3),
    image_digits=5,
    released_images=10000,
    visible_flag=1,
    hidden_joints_located=False,
)
"""Leeds Sports Pose Extended: 10,000 images, ``joints`` 14 x 3 x 10000, flag 1 = visible."""


# ---------------------------------------------------------------------------------------------
# joints.mat
# ---------------------------------------------------------------------------------------------


def parse_joints(contents: dict[str, Any], variant: LeedsVariant, source: str) -> np.ndarray:
    """The ``joints`` array of a loaded ``joints.mat`` as float64 ``[N, 14, 3]`` (x, y, flag).

    ``contents`` is what ``scipy.io.loadmat`` returns. The file's orientation (LSP 3x14xN,
    LSPET 14x3xN) is undone here; values are as written (1-based pixels, raw flags). A file of
    one image may come back as 3x14 (MATLAB drops trailing singleton dimensions).

    Raises:
      ValueError: no numeric ``joints`` variable, or one of another shape (naming ``source``;
        the other release's orientation is recognised and said).
    """
    if "joints" not in contents:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise ValueError(f"{source}: no variable 'joints' (found: {', '.join(found) or 'none'})")
    joints = np.asarray(contents["joints"])
    if joints.dtype.kind not in "biuf":
        raise ValueError(f"{source}: 'joints' is not numeric (dtype {joints.dtype})")
    if joints.ndim == 2:
        joints = joints[:, :, np.newaxis]
    if joints.ndim != 3 or tuple(joints.shape[:2]) != variant.joints_shape:
        other = LSPET if variant is LSP else LSP
        shape = "x".join(str(d) for d in joints.shape)
        hint = ""
        if joints.ndim == 3 and tuple(joints.shape[:2]) == other.joints_shape:
            hint = f"; that is the orientation of {other.name}'s joints.mat ({other.archive})"
        raise ValueError(f"{source}: 'joints' is {shape}, expected {variant.shape_text} for "
                         f"{variant.name}{hint}")
    if variant.joints_shape == (3, NUM_JOINTS):  # joints(c, j, i) -> [i, j, c]
        per_image = np.transpose(joints, (2, 1, 0))
    else:  # joints(j, c, i) -> [i, j, c]
        per_image = np.transpose(joints, (2, 0, 1))
    return np.ascontiguousarray(per_image, dtype=np.float64)


def read_joints_file(path: epath.Path, variant: LeedsVariant) -> np.ndarray:
    """Reads ``joints.mat`` (MATLAB v4-v7 file) -> float64 ``[N, 14, 3]``, see
    :func:`parse_joints`.

    Raises:
      ValueError: the file is not a readable MATLAB file or holds no valid ``joints``.
    """
    try:
        import scipy.io
    except ImportError:  # pragma: no cover - scipy comes with the project's dependencies
        raise ImportError("reading joints.mat needs scipy (pip install scipy)") from None
    try:
        contents = scipy.io.loadmat(io.BytesIO(path.read_bytes()))
    except (ValueError, TypeError, NotImplementedError, OSError) as error:
        raise ValueError(f"{path}: not a readable MATLAB file ({error})") from None
    return parse_joints(contents, variant, str(path))


# ---------------------------------------------------------------------------------------------
# Decoding flags and coordinates
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DecodedJoints:
    """Joints of N images in the shared layout (``datasets_tfds.common``).

    Attributes:
      keypoints: float32 ``[N, 14, 2]``, continuous pixel coordinates (file value - 0.5);
        0 where not labelled.
      visibility: float32 ``[N, 14]``, 1 visible, 0 occluded; 0 where not labelled.
      labelled: bool ``[N, 14]``.
    """

    keypoints: np.ndarray
    visibility: np.ndarray
    labelled: np.ndarray


def decode_joints(per_image: np.ndarray, variant: LeedsVariant, source: str) -> DecodedJoints:
    """Turns raw ``[N, 14, 3]`` joints (x, y, flag as in the file) into the shared layout.

    LSP: every joint with finite coordinates is labelled; visibility = 1 - flag (flag 1 is
    "occluded"). LSPET: a joint is labelled only when its flag is 1 (visible) and its
    coordinates are finite and not a missing-joint marker (x <= 0 and y <= 0); labelled joints
    are visible.

    Raises:
      ValueError: a flag other than 0 or 1 (naming ``source``, the image and the joint).
    """
    per_image = np.asarray(per_image, np.float64)
    flags = per_image[..., 2]
    bad = ~np.isin(flags, (0.0, 1.0))
    if bad.any():
        image, joint = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{source}: image {variant.image_name(image)}, joint {joint} "
            f"({LSP_14.keypoint_names[joint]}): visibility flag {float(flags[image, joint])}, "
            f"expected 0 or 1 ({np.count_nonzero(bad)} bad flag(s) in all)"
        )
    xy = per_image[..., :2]
    finite = np.isfinite(xy).all(axis=-1)
    visible = flags == variant.visible_flag
    if variant.hidden_joints_located:
        labelled = finite
    else:
        marker = (xy[..., 0] <= 0) & (xy[..., 1] <= 0)
        labelled = finite & visible & ~marker
    keypoints = np.where(labelled[..., None], xy + MATLAB_TO_CONTINUOUS, 0.0)
    visibility = np.where(labelled & visible, 1.0, 0.0)
    return DecodedJoints(keypoints.astype(np.float32), visibility.astype(np.float32), labelled)


# ---------------------------------------------------------------------------------------------
# The release in the manual dir
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LeedsSource:
    """One release found in the manual dir, its joints read and its images checked.

    Attributes:
      variant: LSP or LSPET.
      manual_dir: the manual dir (for relative names in metadata).
      joints_path: the ``joints.mat`` read.
      images_dir: the folder holding ``im0001.jpg`` ...
      raw: float64 ``[N, 14, 3]``: x, y, flag per image and joint, as in the file.
      decoded: the joints in the shared layout.
    """

    variant: LeedsVariant
    manual_dir: epath.Path
    joints_path: epath.Path
    images_dir: epath.Path
    raw: np.ndarray
    decoded: DecodedJoints

    @property
    def num_images(self) -> int:
        return int(self.raw.shape[0])

    def relative_name(self, path: epath.Path) -> str:
        """``path`` relative to the manual dir, for metadata and logs."""
        try:
            return str(path.relative_to(self.manual_dir))
        except ValueError:
            return str(path)

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts for the DatasetInfo metadata."""
        labelled = self.decoded.labelled
        return {
            "joints_file": self.relative_name(self.joints_path),
            "images": self.num_images,
            "joints_labelled": int(labelled.sum()),
            "joints_not_labelled": int((~labelled).sum()),
            "images_without_labelled_joints": int((~labelled.any(axis=1)).sum()),
        }


def _missing_joints_message(variant: LeedsVariant, candidates: Sequence[epath.Path],
                            builder: str) -> str:
    looked = "\n".join(f"  {c / JOINTS_FILE}" for c in candidates)
    return (f"{builder}: {variant.name}'s {JOINTS_FILE} not found. Looked for:\n{looked}\n"
            f"Download {variant.archive} from {variant.homepage} and extract it so that "
            f"{JOINTS_FILE} and {IMAGES_DIR}/ lie side by side in one of those folders.")


def _check_images(variant: LeedsVariant, joints_path: epath.Path, images_dir: epath.Path,
                  count: int, builder: str) -> None:
    """Raises MissingSourceFilesError unless every image the joints name is in ``images_dir``."""
    expected = [variant.image_name(i) for i in range(count)]
    if not images_dir.is_dir():
        raise MissingSourceFilesError(
            f"{builder}: image folder not found: {images_dir} ({joints_path} names {count} "
            f"images, {expected[0]} .. {expected[-1]}); extract {variant.archive} completely."
        )
    present = {path.name for path in images_dir.iterdir()}
    missing = [name for name in expected if name not in present]
    if missing:
        listed = ", ".join(missing[:MAX_LISTED_MISSING])
        more = f" (first {MAX_LISTED_MISSING} listed)" if len(missing) > MAX_LISTED_MISSING else ""
        raise MissingSourceFilesError(
            f"{builder}: {len(missing)} of the {count} images named by {joints_path} are missing "
            f"from {images_dir}: {listed}{more}"
        )


def load_source(manual_dir: epath.Path, variant: LeedsVariant, builder: str,
                folders: Sequence[str] | None = None) -> LeedsSource:
    """Finds, reads and checks one release in the manual dir.

    ``joints.mat`` is looked for in each of ``folders`` (relative to the manual dir; default:
    the manual dir itself, then ``variant.folder``); the first found is used, with the
    ``images/`` folder beside it.

    Raises:
      MissingSourceFilesError: no ``joints.mat`` (listing every place looked), no image folder,
        or images the joints name are missing (counted, the first few named).
      ValueError: ``joints.mat`` is unreadable, has the wrong shape or a bad flag.
    """
    manual_dir = epath.Path(manual_dir)
    folders = ("", variant.folder) if folders is None else tuple(folders)
    candidates = [manual_dir / folder if folder else manual_dir for folder in folders]
    found = next((c for c in candidates if (c / JOINTS_FILE).is_file()), None)
    if found is None:
        raise MissingSourceFilesError(_missing_joints_message(variant, candidates, builder))
    joints_path = found / JOINTS_FILE
    raw = read_joints_file(joints_path, variant)
    images_dir = found / IMAGES_DIR
    _check_images(variant, joints_path, images_dir, raw.shape[0], builder)
    if raw.shape[0] != variant.released_images:
        logging.warning("%s: %s holds %d images; the released file holds %d.", builder,
                        joints_path, raw.shape[0], variant.released_images)
    decoded = decode_joints(raw, variant, str(joints_path))
    return LeedsSource(variant, manual_dir, joints_path, images_dir, raw, decoded)


# ---------------------------------------------------------------------------------------------
# Records, splits and examples
# ---------------------------------------------------------------------------------------------


def person_records(source: LeedsSource, indices: Sequence[int], id_prefix: str = ""
                   ) -> list[PersonRecord]:
    """One record per image (each image shows one annotated person), in ``indices`` order.

    ``image_id`` is ``id_prefix`` + the file name (``im0001.jpg``); the person box is left to
    the labelled joints' extent (the releases have no boxes).
    """
    decoded = source.decoded
    records = []
    for index in indices:
        name = source.variant.image_name(index)
        records.append(PersonRecord(
            annotation_file=str(source.joints_path),
            record_index=int(index),
            annotation_id=None,
            image_name=name,
            image_path=source.images_dir / name,
            image_id=id_prefix + name,
            keypoints=decoded.keypoints[index],
            visibility=decoded.visibility[index],
            labelled=decoded.labelled[index],
            person_box=None,
        ))
    return records


def original_split(num_images: int) -> dict[str, range]:
    """LSP's own split: the first half of the images train, the second half test.

    With the released 2,000 images: ``im0001.jpg``-``im1000.jpg`` train,
    ``im1001.jpg``-``im2000.jpg`` test (0-based index ranges here).
    """
    half = num_images // 2
    return {"train": range(0, half), "test": range(half, num_images)}


def tf_blazepose_kept_indices(raw: np.ndarray) -> list[int]:
    """Images tf-blazepose kept: those whose 14 raw x and y values are all > 0.

    (``tools/lsp_data_to_json.py`` drops an image when any point has ``x <= 0 or y <= 0``,
    whatever its flag.) ``raw`` is ``[N, 14, 3]`` as in the file.
    """
    xy = np.asarray(raw)[..., :2]
    return [int(i) for i in np.flatnonzero((xy > 0).all(axis=(1, 2)))]


def tf_blazepose_split(kept: Sequence[int], source: str) -> dict[str, list[int]]:
    """tf-blazepose's split of one source's kept images (``tools/split_lsp_lspet.py``).

    The kept images, in file order, are shuffled by ``random.seed(42); random.shuffle``;
    the last ``2 * h`` are validation then test (h each), the rest train. The original fixes
    h = 100 (with 2000 LSP and 3939 LSPET images); for other sizes (a different copy, the
    dummy data) h = min(100, max(1, n // 20)), which gives 100 for both released sources.

    Raises:
      ValueError: fewer than 3 kept images (naming ``source``).
    """
    order = list(kept)
    if len(order) < 3:
        raise ValueError(f"{source}: {len(order)} image(s) pass tf-blazepose's filter (all "
                         "joints at x > 0 and y > 0); its split needs at least 3")
    random.Random(TF_BLAZEPOSE_SEED).shuffle(order)
    holdout = min(TF_BLAZEPOSE_HOLDOUT, max(1, len(order) // 20))
    train_end = len(order) - 2 * holdout
    return {
        "train": order[:train_end],
        "validation": order[train_end:train_end + holdout],
        "test": order[train_end + holdout:],
    }


@dataclasses.dataclass(frozen=True)
class SplitPlan:
    """Records per split and a JSON-ready description for the DatasetInfo metadata."""

    splits: dict[str, list[PersonRecord]]
    summary: dict[str, Any]


def plan_original(manual_dir: epath.Path, variant: LeedsVariant, builder: str) -> SplitPlan:
    """The release's own split: LSP halves into train / test, LSPET is all train."""
    source = load_source(manual_dir, variant, builder)
    if variant is LSP:
        indices = original_split(source.num_images)
        policy = "LSP's own: first half of the images train, second half test"
    else:
        indices = {"train": range(source.num_images)}
        policy = "LSPET is a training set: every image in train (evaluate on LSP's test split)"
    splits = {split: person_records(source, list(chosen)) for split, chosen in indices.items()}
    summary = {"split_policy": policy, variant.name: source.summary(),
               "examples": {split: len(records) for split, records in splits.items()}}
    return SplitPlan(splits, summary)


def plan_tf_blazepose_merged(manual_dir: epath.Path, builder: str) -> SplitPlan:
    """tf-blazepose's merged LSP + LSPET split (``tools/split_lsp_lspet.py``).

    Needs both releases in the manual dir: ``lsp_dataset/`` and ``lspet_dataset/``. Each
    source is filtered and split on its own (:func:`tf_blazepose_kept_indices`,
    :func:`tf_blazepose_split`); each split is LSP's part followed by LSPET's. Image ids are
    ``lsp/im0001.jpg`` and ``lspet/im00001.jpg``.
    """
    splits: dict[str, list[PersonRecord]] = {"train": [], "validation": [], "test": []}
    summary: dict[str, Any] = {
        "split_policy": "tf-blazepose's tools/split_lsp_lspet.py: per source, images with all "
                        "x, y > 0, random.seed(42) shuffle, last 100 validation then 100 test",
    }
    for variant in (LSP, LSPET):
        source = load_source(manual_dir, variant, builder, folders=(variant.folder,))
        kept = tf_blazepose_kept_indices(source.raw)
        expected = TF_BLAZEPOSE_EXPECTED_KEPT[variant.name]
        if len(kept) != expected:
            logging.warning("%s: %d %s images pass tf-blazepose's filter, the original kept %d; "
                            "this split is not the original's.", builder, len(kept),
                            variant.name, expected)
        parts = tf_blazepose_split(kept, str(source.joints_path))
        prefix = f"{variant.name.lower()}/"
        for split, indices in parts.items():
            splits[split].extend(person_records(source, indices, id_prefix=prefix))
        summary[variant.name] = {
            **source.summary(),
            "kept_by_filter": len(kept),
            "dropped_by_filter": source.num_images - len(kept),
            "examples": {split: len(indices) for split, indices in parts.items()},
        }
    summary["examples"] = {split: len(records) for split, records in splits.items()}
    return SplitPlan(splits, summary)
