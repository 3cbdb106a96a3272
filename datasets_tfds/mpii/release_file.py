"""Reading MPII Human Pose's annotation file, ``mpii_human_pose_v1_u12_1.mat`` (``RELEASE``).

The file is a MATLAB struct ``RELEASE`` (fields as in the data set's README)::

    annolist(i).image.name             image file name, relative to images/
    annolist(i).annorect(r)            one person: x1, y1, x2, y2 (head rectangle), scale
                                       (person height / 200 px), objpos.x/.y (rough position),
                                       annopoints.point(p) with id (0..15), x, y, is_visible
    annolist(i).vididx, .frame_sec     1-based index into video_list, time in the video
    img_train(i)                       1 = training image (joints annotated), 0 = test image
    single_person(i)                   1-based annorect indices of sufficiently separated people
    act(i)                             activity labels (not read)
    video_list(v)                      YouTube video ids

It is read with ``scipy.io.loadmat(..., struct_as_record=False, squeeze_me=True)``, which turns
structs into objects with attributes and squeezes MATLAB's 1x1 and 1xN arrays, so every field
can be a scalar, an array, a string or an empty array; the helpers below accept all of them.
Known irregularities of the real file that are handled: ``is_visible`` is a number, a string
(``'1'``), an empty array or a field missing from a person's points; annorects without
``annopoints`` (and test-image annorects with only ``scale`` and ``objpos``); people with fewer
than 16 points; empty ``annorect``, ``vididx``, ``scale`` and ``objpos``.

Coordinates in the file are MATLAB's 1-based pixel coordinates (pixel ``k`` is centred on ``k``,
as Microsoft's and MMPose's MPII loaders assume when they subtract 1 for 0-based pixel
indices); here they become the project's continuous coordinates (pixel ``i`` spans
``[i, i + 1)``) by subtracting 0.5: keypoints, head rectangles and ``objpos`` alike.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from typing import Any

import numpy as np
from etils import epath

__all__ = [
    "ANNOTATION_FILE_NAME",
    "MATLAB_TO_CONTINUOUS",
    "NUM_JOINTS",
    "PERSON_HEIGHT_PER_SCALE",
    "MalformedReleaseError",
    "MpiiImage",
    "MpiiPerson",
    "Release",
    "SkippedPerson",
    "parse_release",
    "read_release",
]

ANNOTATION_FILE_NAME = "mpii_human_pose_v1_u12_1.mat"
"""The annotation file inside MPII's annotation archive (``mpii_human_pose_v1_u12_2.zip``)."""

NUM_JOINTS = 16
"""MPII joint ids 0..15 (0 r ankle ... 9 head top, 10 r wrist ... 15 l wrist), = ``MPII_16``."""

MATLAB_TO_CONTINUOUS = -0.5
"""Added to the file's 1-based MATLAB coordinates to get continuous pixel coordinates."""

PERSON_HEIGHT_PER_SCALE = 200.0
"""``scale`` is the person's height in units of 200 pixels (README: "w.r.t. 200 px height")."""


class MalformedReleaseError(ValueError):
    """The .mat file is not MPII's RELEASE struct (message names the file and the field)."""


@dataclasses.dataclass(frozen=True)
class MpiiPerson:
    """One annotated person (an ``annorect`` with joints) of a training image.

    Attributes:
      annolist_index: 0-based index of the image in ``RELEASE.annolist`` (MATLAB index - 1).
      annorect_index: 0-based index of the person in that image's ``annorect``.
      keypoints: float32 ``[16, 2]`` x, y in continuous pixels, in joint-id order; 0 where not
        labelled.
      visibility: float32 ``[16]``, 1 visible, 0 not (0 where not labelled).
      labelled: bool ``[16]``, whether the joint id occurs among the person's points.
      head_box: float32 ``[4]`` x_min, y_min, x_max, y_max of the head rectangle in continuous
        pixels; all 0 when the file has no complete rectangle for the person.
      scale: person height / 200 px, or None when the file gives none (or a non-positive one).
      objpos: float32 ``[2]`` rough person position (continuous pixels), or None.
      in_single_person_subset: whether ``single_person`` lists the person (the data set's
        "sufficiently separated individuals").
    """

    annolist_index: int
    annorect_index: int
    keypoints: np.ndarray
    visibility: np.ndarray
    labelled: np.ndarray
    head_box: np.ndarray
    scale: float | None
    objpos: np.ndarray | None
    in_single_person_subset: bool

    def person_box(self) -> np.ndarray | None:
        """float32 ``[4]``: the square of side ``200 * scale`` px centred on ``objpos``.

        This is the region MPII's ``scale``/``objpos`` describe (a person about
        ``200 * scale`` pixels tall around ``objpos``), the crop most MPII training code
        starts from; None when the file lacks ``scale`` or ``objpos``.
        """
        if self.scale is None or self.objpos is None:
            return None
        half = PERSON_HEIGHT_PER_SCALE * self.scale / 2.0
        x, y = (float(v) for v in self.objpos)
        return np.array([x - half, y - half, x + half, y + half], np.float32)


@dataclasses.dataclass(frozen=True)
class MpiiImage:
    """One ``annolist`` entry.

    Attributes:
      annolist_index: 0-based index in ``RELEASE.annolist``.
      name: image file name, relative to the images folder.
      is_train: ``img_train(i) == 1``.
      video_id: the YouTube id ``video_list(vididx)``, or None when the image has no video.
      people: the persons with joint annotations (training images only).
    """

    annolist_index: int
    name: str
    is_train: bool
    video_id: str | None
    people: tuple[MpiiPerson, ...]


@dataclasses.dataclass(frozen=True)
class SkippedPerson:
    """An annorect of a training image that has joint annotations but cannot be read."""

    annolist_index: int
    annorect_index: int
    image: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Release:
    """The parsed annotation file.

    Attributes:
      path: the .mat file, for messages.
      images: every ``annolist`` entry, in file order.
      skipped: annorects with joint annotations that could not be read (with the reason).
      annorects_without_joints: annorects of training images without ``annopoints`` or with
        no point in them (people marked without joints; not examples).
      unusable_vididx: images whose ``vididx`` is present but does not index ``video_list``
        (their ``video_id`` is None).
    """

    path: str
    images: tuple[MpiiImage, ...]
    skipped: tuple[SkippedPerson, ...]
    annorects_without_joints: int
    unusable_vididx: int = 0

    def people(self) -> Iterator[tuple[MpiiImage, MpiiPerson]]:
        """(image, person) for every readable person of every training image, in file order."""
        for image in self.images:
            for person in image.people:
                yield image, person


# ---------------------------------------------------------------------------------------------
# Values as scipy gives them (squeeze_me=True, struct_as_record=False)
# ---------------------------------------------------------------------------------------------


class _PersonProblem(Exception):
    """Internal: why the annorect being read cannot become a person."""


def _is_struct(value: Any) -> bool:
    return hasattr(value, "_fieldnames")


def _elements(value: Any) -> list[Any]:
    """A MATLAB array as a list: [] for None/empty, [x] for a squeezed scalar, else its items."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def _number(value: Any, what: str) -> float | None:
    """A finite float from a number or a 1-element array; None for empty arrays."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return None
        if value.size != 1:
            raise _PersonProblem(f"{what} has {value.size} values, expected one")
        value = value.reshape(()).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise _PersonProblem(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise _PersonProblem(f"{what} is not finite ({number})")
    return number


def _field(struct: Any, name: str) -> Any:
    """The field's value, or None when the struct (array) has no such field."""
    return getattr(struct, name, None) if _is_struct(struct) else None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.size == 1 and isinstance(value.item(), str):
        return value.item()
    return None


def _joint_visibility(point: Any, joint: int) -> float:
    """1.0 visible, 0.0 not, from ``is_visible`` in any of its forms.

    A missing field or an empty value counts as visible, as in the loaders of Newell et al.
    (pose-hg-train ``src/misc/mpii.py``) and Wei et al. (convolutional pose machines,
    ``genJSON.m``); a string is read as its number.
    """
    if not hasattr(point, "is_visible"):
        return 1.0
    value = point.is_visible
    text = _text(value)
    if text is not None:
        try:
            value = int(text.strip())
        except ValueError:
            raise _PersonProblem(f"joint {joint}: is_visible {text!r} is not a number") from None
    number = _number(value, f"joint {joint}: is_visible")
    if number is None:
        return 1.0
    return 0.0 if number == 0 else 1.0


def _joints(annopoints: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keypoints float32 [16, 2] in file coordinates, visibility [16], labelled [16])."""
    keypoints = np.zeros((NUM_JOINTS, 2), np.float32)
    visibility = np.zeros(NUM_JOINTS, np.float32)
    labelled = np.zeros(NUM_JOINTS, bool)
    for point in _elements(_field(annopoints, "point")):
        if not _is_struct(point):
            raise _PersonProblem(f"annopoints.point holds {point!r}, expected structs")
        joint_value = _number(_field(point, "id"), "joint id")
        if joint_value is None or joint_value != int(joint_value):
            raise _PersonProblem(f"joint id {joint_value!r} is not an integer")
        joint = int(joint_value)
        if not 0 <= joint < NUM_JOINTS:
            raise _PersonProblem(f"joint id {joint} is outside 0..{NUM_JOINTS - 1}")
        if labelled[joint]:
            raise _PersonProblem(f"joint id {joint} occurs twice")
        x = _number(_field(point, "x"), f"joint {joint}: x")
        y = _number(_field(point, "y"), f"joint {joint}: y")
        if x is None or y is None:
            raise _PersonProblem(f"joint {joint} has no coordinates")
        keypoints[joint] = (x, y)
        visibility[joint] = _joint_visibility(point, joint)
        labelled[joint] = True
    return keypoints, visibility, labelled


def _head_box(rect: Any) -> np.ndarray:
    """Continuous [x_min, y_min, x_max, y_max] of x1, y1, x2, y2; zeros when incomplete."""
    corners = [_number(_field(rect, name), name) for name in ("x1", "y1", "x2", "y2")]
    if any(value is None for value in corners):
        return np.zeros(4, np.float32)
    x1, y1, x2, y2 = corners
    box = np.array([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], np.float64)
    return (box + MATLAB_TO_CONTINUOUS).astype(np.float32)


def _objpos(rect: Any) -> np.ndarray | None:
    objpos = _field(rect, "objpos")
    if not _is_struct(objpos):
        return None
    x, y = _number(_field(objpos, "x"), "objpos.x"), _number(_field(objpos, "y"), "objpos.y")
    if x is None or y is None:
        return None
    return (np.array([x, y], np.float64) + MATLAB_TO_CONTINUOUS).astype(np.float32)


def _scale(rect: Any) -> float | None:
    """The person's scale; None when absent or not positive (then unusable for a box)."""
    scale = _number(_field(rect, "scale"), "scale")
    return scale if scale is not None and scale > 0 else None


def _person(annolist_index: int, annorect_index: int, rect: Any, separated: set[int]
            ) -> MpiiPerson | None:
    """The person of an annorect with ``annopoints``; None when it holds no point."""
    keypoints, visibility, labelled = _joints(_field(rect, "annopoints"))
    if not labelled.any():
        return None
    keypoints = np.where(labelled[:, None], keypoints + MATLAB_TO_CONTINUOUS, 0.0)
    return MpiiPerson(
        annolist_index=annolist_index,
        annorect_index=annorect_index,
        keypoints=keypoints.astype(np.float32),
        visibility=np.where(labelled, visibility, 0.0).astype(np.float32),
        labelled=labelled,
        head_box=_head_box(rect),
        scale=_scale(rect),
        objpos=_objpos(rect),
        in_single_person_subset=annorect_index in separated,
    )


# ---------------------------------------------------------------------------------------------
# The RELEASE struct
# ---------------------------------------------------------------------------------------------


def _release_field(release: Any, name: str, path: str) -> Any:
    if not hasattr(release, name):
        raise MalformedReleaseError(f"{path}: RELEASE has no field {name!r} (fields: "
                                    f"{', '.join(getattr(release, '_fieldnames', []))})")
    return getattr(release, name)


def _separated_people(value: Any, path: str, image: int) -> set[int]:
    """0-based annorect indices listed by ``single_person(i)`` (1-based in the file)."""
    indices = set()
    for element in _elements(value):
        try:
            number = _number(element, "single_person")
        except _PersonProblem as problem:
            raise MalformedReleaseError(f"{path}: single_person({image + 1}): {problem}") from None
        if number is None:
            continue
        if number != int(number) or number < 1:
            raise MalformedReleaseError(
                f"{path}: single_person({image + 1}) holds {number}, expected 1-based indices")
        indices.add(int(number) - 1)
    return indices


def _video_id(entry: Any, video_list: list[Any]) -> tuple[str | None, bool]:
    """(YouTube id of ``video_list(vididx)`` or None, whether a present vididx was unusable)."""
    vididx = _field(entry, "vididx")
    if vididx is None:
        vididx = _field(entry, "vidx")  # the README's spelling; the file says vididx
    try:
        index = _number(vididx, "vididx") if vididx is not None else None
    except _PersonProblem:
        return None, True
    if index is None:
        return None, False
    if index != int(index) or not 1 <= index <= len(video_list):
        return None, True
    video = _text(video_list[int(index) - 1])
    return video, video is None


def _image_name(entry: Any, path: str, image: int) -> str:
    name = _text(_field(_field(entry, "image"), "name"))
    if not name:
        raise MalformedReleaseError(f"{path}: annolist({image + 1}).image.name is missing")
    return name


def parse_release(release: Any, path: str) -> Release:
    """Reads the ``RELEASE`` object that ``loadmat(squeeze_me=True, struct_as_record=False)``
    returns; ``path`` names the file in messages.

    Raises:
      MalformedReleaseError: a field the builder needs is missing or malformed (annolist,
        img_train, single_person, video_list, image names).
    """
    annolist = _elements(_release_field(release, "annolist", path))
    img_train = np.asarray(_release_field(release, "img_train", path), np.float64).reshape(-1)
    single_person = _elements(_release_field(release, "single_person", path))
    video_list = _elements(_release_field(release, "video_list", path))
    if not (len(annolist) == len(img_train) == len(single_person)):
        raise MalformedReleaseError(
            f"{path}: annolist ({len(annolist)}), img_train ({len(img_train)}) and single_person "
            f"({len(single_person)}) differ in length")
    images, skipped, without_joints, unusable_vididx = [], [], 0, 0
    for index, entry in enumerate(annolist):
        if not _is_struct(entry):
            raise MalformedReleaseError(f"{path}: annolist({index + 1}) is not a struct")
        name = _image_name(entry, path, index)
        is_train = bool(img_train[index] == 1)
        people = []
        if is_train:
            separated = _separated_people(single_person[index], path, index)
            for rect_index, rect in enumerate(_elements(_field(entry, "annorect"))):
                if not _is_struct(_field(rect, "annopoints")):
                    without_joints += 1
                    continue
                try:
                    person = _person(index, rect_index, rect, separated)
                except _PersonProblem as problem:
                    skipped.append(SkippedPerson(index, rect_index, name, str(problem)))
                    continue
                if person is None:
                    without_joints += 1
                else:
                    people.append(person)
        video_id, unusable = _video_id(entry, video_list)
        unusable_vididx += unusable
        images.append(MpiiImage(index, name, is_train, video_id, tuple(people)))
    return Release(path, tuple(images), tuple(skipped), without_joints, unusable_vididx)


def read_release(path: epath.PathLike) -> Release:
    """Loads and parses the annotation file (``mpii_human_pose_v1_u12_1.mat``).

    Raises:
      MalformedReleaseError: not a MATLAB file, no ``RELEASE`` variable, or a malformed field.
    """
    import scipy.io  # imported here: only the MPII builder needs scipy

    path = epath.Path(path)
    try:
        contents = scipy.io.loadmat(io.BytesIO(path.read_bytes()), struct_as_record=False,
                                    squeeze_me=True, variable_names=["RELEASE"])
    except (ValueError, TypeError, NotImplementedError) as error:
        raise MalformedReleaseError(f"{path}: not a readable MATLAB file ({error})") from None
    if "RELEASE" not in contents:
        raise MalformedReleaseError(f"{path}: no variable 'RELEASE' in the file")
    return parse_release(contents["RELEASE"], str(path))
