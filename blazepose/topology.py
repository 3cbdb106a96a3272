"""Keypoint sets ("topologies") used by the project: what each keypoint is, and its partners.

A :class:`Topology` names the keypoints of one data set in that data set's own order, lists the
skeleton edges used for drawing, and says which of BlazePose's 33 body landmarks each keypoint
corresponds to. Everything else (mirror permutation for horizontal flips, unmapped points) is
derived from those three facts, so a new data set is added by writing down its names.

Conventions used throughout:

* Left and right are the *person's* left and right, as in MediaPipe, COCO, LSP and MPII. A person
  facing the camera has their left side on the image's right.
* Keypoint arrays are ``[..., K, D]``: any leading batch dimensions, K keypoints, and D >= 1
  coordinates of which the first is x (then y, and possibly z or more).
* x is a continuous coordinate in which pixel column i spans ``[i, i + 1)`` and the image spans
  ``[0, width)``; the same holds for normalised coordinates with ``width = 1``.

Arrays are moved by these facts (flip, layouts) in :mod:`blazepose.keypoints`. This module
imports only the standard library and numpy, so that it stays cheap to import.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AUX_ROI_CENTER_INDEX",
    "AUX_ROI_SCALE_INDEX",
    "BLAZEPOSE_33",
    "BLAZEPOSE_39",
    "COCO_17",
    "LSP_14",
    "MODEL_OUTPUT_NAMES",
    "MPII_16",
    "NUM_BLAZEPOSE_LANDMARKS",
    "NUM_MODEL_OUTPUT_LANDMARKS",
    "PUSHUP_7",
    "PoseLandmark",
    "TOPOLOGIES",
    "Topology",
    "UPPER_BODY_25",
    "get_topology",
    "mapped_indices",
    "unmapped_indices",
]

NUM_BLAZEPOSE_LANDMARKS = 33
"""Body landmarks of BlazePose (MediaPipe Pose): indices 0..32 of the model's outputs."""

NUM_MODEL_OUTPUT_LANDMARKS = 39
"""Landmarks the BlazePose landmark network outputs: the 33 body landmarks and 6 extra ones."""

AUX_ROI_CENTER_INDEX = 33
"""Model output 33: auxiliary point at the centre of the next frame's crop (near the hip centre)."""

AUX_ROI_SCALE_INDEX = 34
"""Model output 34: auxiliary point which, with output 33, fixes the crop's size and rotation."""

# ---------------------------------------------------------------------------------------------
# Side tokens and the mirror rule
# ---------------------------------------------------------------------------------------------

# A "token" is a maximal run of upper-case letters (not followed by a lower-case one, so that
# "LEFTShoulder" splits as LEFT|Shoulder), a capitalised or lower-case word, or a run of digits.
# Separators (underscores, spaces, dashes, ...) and camelCase boundaries therefore split names.
_TOKEN_PATTERN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_OPPOSITE_SIDE = {"left": "right", "right": "left", "l": "r", "r": "l"}
_GLUED_SIDE_PREFIXES = ("left", "right", "l", "r")  # longest first
_SHORT_SIDE_TOKENS = {"l": "left", "r": "right"}


def _in_case_of(word: str, template: str) -> str:
    """Writes lower-case ``word`` in the letter case of ``template`` (UPPER, Capital or lower)."""
    if template.isupper():
        return word.upper()
    if template[0].isupper():
        return word.capitalize()
    return word


def _mirror_by_side_token(name: str) -> str | None:
    """Mirror of a name holding a side token (``left``/``right``/``l``/``r``), else None.

    Raises:
      ValueError: the name holds more than one side token, so its side is ambiguous.
    """
    side_tokens = [m for m in _TOKEN_PATTERN.finditer(name) if m.group().lower() in _OPPOSITE_SIDE]
    if not side_tokens:
        return None
    if len(side_tokens) > 1:
        found = [m.group() for m in side_tokens]
        raise ValueError(f"keypoint name {name!r} has several side tokens {found}; expected one")
    token = side_tokens[0]
    opposite = _in_case_of(_OPPOSITE_SIDE[token.group().lower()], token.group())
    return name[: token.start()] + opposite + name[token.end() :]


def _mirror_by_glued_prefix(name: str, names: Mapping[str, int]) -> str | None:
    """Mirror of a name such as ``lhip`` whose side prefix is glued to the word, else None.

    A glued prefix is ambiguous (``lip``, ``rib``), so it counts as a side only when the name
    with the opposite prefix is also a keypoint of the same topology.
    """
    lowered = name.lower()
    for prefix in _GLUED_SIDE_PREFIXES:
        if lowered.startswith(prefix) and len(name) > len(prefix):
            opposite = _in_case_of(_OPPOSITE_SIDE[prefix], name[: len(prefix)])
            candidate = opposite + name[len(prefix) :]
            if candidate in names:
                return candidate
    return None


def _derive_flip_permutation(keypoint_names: tuple[str, ...]) -> tuple[int, ...]:
    """Index of each keypoint's mirror partner, derived from the names (see :class:`Topology`)."""
    index_of = {name: i for i, name in enumerate(keypoint_names)}
    permutation = []
    for i, name in enumerate(keypoint_names):
        partner = _mirror_by_side_token(name)
        if partner is None:
            partner = _mirror_by_glued_prefix(name, index_of)
        if partner is None:
            permutation.append(i)
        elif partner in index_of:
            permutation.append(index_of[partner])
        else:
            raise ValueError(
                f"keypoint {name!r} names a side but its mirror partner {partner!r} is missing"
            )
    for i, j in enumerate(permutation):
        if permutation[j] != i:
            raise ValueError(
                f"mirror pairing is not symmetric: {keypoint_names[i]!r} -> "
                f"{keypoint_names[j]!r} -> {keypoint_names[permutation[j]]!r}"
            )
    return tuple(permutation)


# ---------------------------------------------------------------------------------------------
# Topology
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """A named keypoint set: names in order, drawing edges and BlazePose counterparts.

    Attributes:
      name: registry key, e.g. ``"coco_17"``.
      keypoint_names: unique names in the data set's order; index i of any keypoint array of this
        topology holds the point named ``keypoint_names[i]``.
      edges: skeleton edges for drawing, as pairs of keypoint indices.
      to_blazepose: for each keypoint, the index (0..32) of the BlazePose body landmark that marks
        the same body part, or None when BlazePose has no such landmark (e.g. a head top).

    Mirror rule (``flip_permutation``): a name is split into tokens at separators, camelCase
    boundaries and letter/digit boundaries. A name holding exactly one side token (``left``,
    ``right``, ``l`` or ``r``, any case, anywhere: ``LEFT_SHOULDER``, ``MOUTH_LEFT``,
    ``left_ankle``, ``l_ankle``, ``leftWrist``) mirrors to the same name with that token swapped
    and its case kept; that name must exist. A name without a side token whose start is a glued
    side prefix (``lhip``) mirrors to the name with the opposite prefix (``rhip``) when that name
    exists, and is otherwise taken as a word (``lip``). Every other name mirrors to itself.

    Raises:
      ValueError: from construction, on empty or duplicate names, a side name without its mirror
        partner, a name with several side tokens, an edge that is not a pair of two different
        in-range indices, a mapping of the wrong length, a mapping outside 0..32, or two
        keypoints mapped to the same BlazePose landmark.
    """

    name: str
    keypoint_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    to_blazepose: tuple[int | None, ...]
    _flip_permutation: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept any iterables but store tuples, so that instances stay immutable and hashable.
        object.__setattr__(self, "keypoint_names", tuple(self.keypoint_names))
        object.__setattr__(self, "edges", tuple(tuple(edge) for edge in self.edges))
        object.__setattr__(self, "to_blazepose", tuple(self.to_blazepose))
        self._validate_names()
        self._validate_edges()
        self._validate_mapping()
        object.__setattr__(self, "_flip_permutation", _derive_flip_permutation(self.keypoint_names))

    def _validate_names(self) -> None:
        if not self.name:
            raise ValueError("topology name must be a non-empty string")
        if not self.keypoint_names:
            raise ValueError(f"topology {self.name!r} has no keypoints")
        for keypoint_name in self.keypoint_names:
            if not isinstance(keypoint_name, str) or not keypoint_name:
                raise ValueError(
                    f"topology {self.name!r}: keypoint names must be non-empty strings, "
                    f"got {keypoint_name!r}"
                )
        duplicates = sorted({n for n in self.keypoint_names if self.keypoint_names.count(n) > 1})
        if duplicates:
            raise ValueError(f"topology {self.name!r} has duplicate keypoint names {duplicates}")

    def _validate_edges(self) -> None:
        count = len(self.keypoint_names)
        for edge in self.edges:
            is_pair = len(edge) == 2 and all(_is_index(i) for i in edge)
            if not is_pair or not all(0 <= i < count for i in edge) or edge[0] == edge[1]:
                raise ValueError(
                    f"topology {self.name!r}: edge {edge} must join two different keypoint "
                    f"indices in [0, {count})"
                )

    def _validate_mapping(self) -> None:
        if len(self.to_blazepose) != len(self.keypoint_names):
            raise ValueError(
                f"topology {self.name!r}: to_blazepose has {len(self.to_blazepose)} entries for "
                f"{len(self.keypoint_names)} keypoints"
            )
        used_by: dict[int, str] = {}
        for keypoint_name, target in zip(self.keypoint_names, self.to_blazepose):
            if target is None:
                continue
            if not _is_index(target) or not 0 <= target < NUM_BLAZEPOSE_LANDMARKS:
                raise ValueError(
                    f"topology {self.name!r}: {keypoint_name!r} maps to {target!r}, expected None "
                    f"or a BlazePose index in [0, {NUM_BLAZEPOSE_LANDMARKS})"
                )
            if target in used_by:
                raise ValueError(
                    f"topology {self.name!r}: {used_by[target]!r} and {keypoint_name!r} both map "
                    f"to BlazePose landmark {target}"
                )
            used_by[target] = keypoint_name

    @property
    def num_keypoints(self) -> int:
        """K, the number of keypoints."""
        return len(self.keypoint_names)

    @property
    def flip_permutation(self) -> tuple[int, ...]:
        """Index i holds the index of keypoint i's mirror partner (i itself for central points).

        After a horizontal flip of the image, the point seen at keypoint j's slot is the mirror of
        the point that was labelled ``flip_permutation[j]``. It is an involution.
        """
        return self._flip_permutation

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        """Left/right partner pairs ``(i, j)`` with ``i < j``, ordered by i."""
        return tuple((i, j) for i, j in enumerate(self._flip_permutation) if i < j)

    def to_dict(self) -> dict[str, Any]:
        """The topology as JSON-ready metadata (data sets' DatasetInfo, exports' metadata.json).

        ``{"topology": name, "keypoint_names": [K names], "flip_permutation": [K ints],
        "edges": [[i, j], ...], "to_blazepose": [K ints, -1 where unmapped]}``; read back with
        :meth:`from_dict`. ``flip_permutation`` is derived from the names and only stored for
        readers without this module.
        """
        return {
            "topology": self.name,
            "keypoint_names": list(self.keypoint_names),
            "flip_permutation": [int(i) for i in self.flip_permutation],
            "edges": [[int(a), int(b)] for a, b in self.edges],
            "to_blazepose": [-1 if i is None else int(i) for i in self.to_blazepose],
        }

    @classmethod
    def from_dict(cls, metadata: Mapping[str, Any], source: str = "metadata") -> Topology:
        """The topology :meth:`to_dict` described (extra keys are ignored).

        A registered name whose keypoint names match (or are absent) gives the registered
        topology itself; any other is rebuilt from its names, edges and BlazePose mapping.

        Raises:
          ValueError: naming ``source``, when there is no ``topology`` name, a registered name
            comes without keypoint names, the stored ``flip_permutation`` is not the one the
            names imply, or the topology is invalid (see :class:`Topology`).
        """
        if "topology" not in metadata:
            raise ValueError(f"{source} names no keypoint topology ('topology' is missing)")
        name = str(metadata["topology"])
        names = tuple(metadata.get("keypoint_names", ()))
        registered = TOPOLOGIES.get(name)
        if registered is not None and (not names or names == registered.keypoint_names):
            topology = registered
        else:
            if not names:
                raise ValueError(f"{source}: topology {name!r} is not registered and lists no "
                                 "keypoint_names")
            mapping = metadata.get("to_blazepose", [-1] * len(names))
            try:
                topology = cls(
                    name=name, keypoint_names=names,
                    edges=tuple(tuple(int(i) for i in edge) for edge in metadata.get("edges", ())),
                    to_blazepose=tuple(None if int(i) < 0 else int(i) for i in mapping))
            except ValueError as error:
                raise ValueError(f"{source}: {error}") from None
        stored = metadata.get("flip_permutation")
        if stored is not None and tuple(int(i) for i in stored) != topology.flip_permutation:
            raise ValueError(f"{source}: flip_permutation {list(stored)} is not the one the "
                             f"keypoint names of {name!r} imply, {list(topology.flip_permutation)}")
        return topology

    def index(self, keypoint_name: str) -> int:
        """Index of the keypoint called ``keypoint_name`` (exact spelling).

        Raises:
          ValueError: no keypoint of this topology has that name.
        """
        try:
            return self.keypoint_names.index(keypoint_name)
        except ValueError:
            raise ValueError(
                f"topology {self.name!r} has no keypoint {keypoint_name!r}; "
                f"known: {', '.join(self.keypoint_names)}"
            ) from None


def _is_index(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _edges_by_name(
    keypoint_names: tuple[str, ...], named_edges: Iterable[tuple[str, str]]
) -> tuple[tuple[int, int], ...]:
    index_of = {name: i for i, name in enumerate(keypoint_names)}
    return tuple((index_of[a], index_of[b]) for a, b in named_edges)


def _canonical_part(name: str) -> str:
    """Lower-case token form with ``l``/``r`` spelled out: ``r_ankle`` -> ``right_ankle``."""
    tokens = (token.lower() for token in _TOKEN_PATTERN.findall(name))
    return "_".join(_SHORT_SIDE_TOKENS.get(token, token) for token in tokens)


def _blazepose_counterparts(keypoint_names: tuple[str, ...]) -> tuple[int | None, ...]:
    """BlazePose index of each name whose canonical form equals a BlazePose name's, else None.

    The data-set names below are written in their data set's style but with the same words as
    MediaPipe's, so that equal words mean the same body part (e.g. COCO's ``left_eye`` and
    MediaPipe's ``LEFT_EYE`` are both the eye centre).
    """
    blazepose_index = {_canonical_part(name): i for i, name in enumerate(_BLAZEPOSE_33_NAMES)}
    return tuple(blazepose_index.get(_canonical_part(name)) for name in keypoint_names)


def _dataset_topology(
    name: str, keypoint_names: tuple[str, ...], named_edges: Iterable[tuple[str, str]]
) -> Topology:
    return Topology(
        name=name,
        keypoint_names=keypoint_names,
        edges=_edges_by_name(keypoint_names, named_edges),
        to_blazepose=_blazepose_counterparts(keypoint_names),
    )


# ---------------------------------------------------------------------------------------------
# BlazePose (MediaPipe Pose)
# ---------------------------------------------------------------------------------------------

# MediaPipe's PoseLandmark names, in MediaPipe's order.
_BLAZEPOSE_33_NAMES = (
    "NOSE",
    "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER",
    "RIGHT_EYE_INNER", "RIGHT_EYE", "RIGHT_EYE_OUTER",
    "LEFT_EAR", "RIGHT_EAR",
    "MOUTH_LEFT", "MOUTH_RIGHT",
    "LEFT_SHOULDER", "RIGHT_SHOULDER",
    "LEFT_ELBOW", "RIGHT_ELBOW",
    "LEFT_WRIST", "RIGHT_WRIST",
    "LEFT_PINKY", "RIGHT_PINKY",
    "LEFT_INDEX", "RIGHT_INDEX",
    "LEFT_THUMB", "RIGHT_THUMB",
    "LEFT_HIP", "RIGHT_HIP",
    "LEFT_KNEE", "RIGHT_KNEE",
    "LEFT_ANKLE", "RIGHT_ANKLE",
    "LEFT_HEEL", "RIGHT_HEEL",
    "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)  # fmt: skip

# MediaPipe's POSE_CONNECTIONS.
_BLAZEPOSE_33_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip

BLAZEPOSE_33 = Topology(
    name="blazepose_33",
    keypoint_names=_BLAZEPOSE_33_NAMES,
    edges=_BLAZEPOSE_33_EDGES,
    to_blazepose=tuple(range(NUM_BLAZEPOSE_LANDMARKS)),
)
"""MediaPipe's 33 pose landmarks, names, order and connections as in MediaPipe."""

PoseLandmark = enum.IntEnum(
    "PoseLandmark", {name: index for index, name in enumerate(_BLAZEPOSE_33_NAMES)},
    module=__name__)
PoseLandmark.__doc__ = """The 33 body landmarks by name: ``PoseLandmark.LEFT_HIP == 23``.

Generated from :data:`BLAZEPOSE_33`'s names, so member names, values and order are MediaPipe's
``mp.solutions.pose.PoseLandmark`` (re-exported by ``blazepose.solutions.pose``). Use it to index
``[..., 33, D]`` landmark arrays instead of bare numbers.
"""

MODEL_OUTPUT_NAMES = _BLAZEPOSE_33_NAMES + (
    "AUX_ROI_CENTER",
    "AUX_ROI_SCALE",
    "UNUSED_0",
    "UNUSED_1",
    "UNUSED_2",
    "UNUSED_3",
)
"""Names of the landmark network's 39 outputs, in output order.

Outputs 0..32 are the body landmarks. Output 33 (``AUX_ROI_CENTER``) is the centre of the region
of interest MediaPipe crops for the next frame, close to the hip centre; output 34
(``AUX_ROI_SCALE``) is a second point such that the vector from 33 to 34 gives the crop's size
and rotation (as the detector's two keypoints do). Outputs 35..38 are not used by MediaPipe.
"""

BLAZEPOSE_39 = Topology(
    name="blazepose_39",
    keypoint_names=MODEL_OUTPUT_NAMES,
    edges=_BLAZEPOSE_33_EDGES,
    to_blazepose=tuple(range(NUM_BLAZEPOSE_LANDMARKS))
    + (None,) * (NUM_MODEL_OUTPUT_LANDMARKS - NUM_BLAZEPOSE_LANDMARKS),
)
"""The landmark network's 39 outputs: BLAZEPOSE_33 followed by the 6 extra points, unmapped."""

_UPPER_BODY_COUNT = 25

UPPER_BODY_25 = Topology(
    name="upper_body_25",
    keypoint_names=_BLAZEPOSE_33_NAMES[:_UPPER_BODY_COUNT],
    edges=tuple(edge for edge in _BLAZEPOSE_33_EDGES if max(edge) < _UPPER_BODY_COUNT),
    to_blazepose=tuple(range(_UPPER_BODY_COUNT)),
)
"""MediaPipe's upper-body model: BlazePose landmarks 0..24 (down to the hips)."""

# ---------------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------------

_LSP_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck", "head_top",
)  # fmt: skip

LSP_14 = _dataset_topology(
    "lsp_14",
    _LSP_NAMES,
    (
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"),
        ("right_hip", "left_hip"),
        ("right_hip", "right_shoulder"), ("left_hip", "left_shoulder"),
        ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"), ("left_elbow", "left_shoulder"),
        ("right_shoulder", "neck"), ("left_shoulder", "neck"), ("neck", "head_top"),
    ),
)  # fmt: skip
"""Leeds Sports Pose (and LSP Extended), 14 joints in the data set's order."""

_MPII_NAMES = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)  # fmt: skip

MPII_16 = _dataset_topology(
    "mpii_16",
    _MPII_NAMES,
    (
        ("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("r_hip", "pelvis"),
        ("l_ankle", "l_knee"), ("l_knee", "l_hip"), ("l_hip", "pelvis"),
        ("pelvis", "thorax"), ("thorax", "upper_neck"), ("upper_neck", "head_top"),
        ("r_wrist", "r_elbow"), ("r_elbow", "r_shoulder"), ("r_shoulder", "thorax"),
        ("l_wrist", "l_elbow"), ("l_elbow", "l_shoulder"), ("l_shoulder", "thorax"),
    ),
)  # fmt: skip
"""MPII Human Pose, 16 joints in the data set's joint-id order (0 = right ankle)."""

_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

COCO_17 = _dataset_topology(
    "coco_17",
    _COCO_NAMES,
    (
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"),
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"),
        ("left_hip", "right_hip"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
        ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"),
        ("left_eye", "left_ear"), ("right_eye", "right_ear"),
        ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ),
)  # fmt: skip
"""COCO person keypoints, 17 points in COCO's order, with COCO's 19-edge skeleton."""

# Order from vietanhdev/tf-blazepose: tools/merge_mpii_pushup.py and
# tools/split_lsp_lspet_7points.py convert MPII/LSP labels to this set by taking the joints
# (right wrist, right elbow, right shoulder, head top, left shoulder, left elbow, left wrist),
# configs/mpii/*pushup*.json declare the flip pairs (0, 6), (1, 5), (2, 4), and run_video.py
# draws the chain 0-1-2-3-4-5-6. (src/data/pushup.py's unused get_kp_keys() lists other names,
# with ankles, that contradict those conversions.) The names follow MPII's style.
_PUSHUP_NAMES = ("r_wrist", "r_elbow", "r_shoulder", "head_top", "l_shoulder", "l_elbow", "l_wrist")

PUSHUP_7 = _dataset_topology(
    "pushup_7",
    _PUSHUP_NAMES,
    zip(_PUSHUP_NAMES[:-1], _PUSHUP_NAMES[1:]),
)
"""The 7-point push-up set of the original tf-blazepose project (arms and head top)."""

TOPOLOGIES: dict[str, Topology] = {
    topology.name: topology
    for topology in (BLAZEPOSE_33, BLAZEPOSE_39, UPPER_BODY_25, LSP_14, MPII_16, COCO_17, PUSHUP_7)
}
"""Every topology of the project, keyed by its ``name``."""


def get_topology(name: str) -> Topology:
    """The registered topology called ``name`` (case-insensitive), e.g. ``"coco_17"``.

    Raises:
      ValueError: no topology has that name; the message lists the known names.
    """
    try:
        return TOPOLOGIES[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown topology {name!r}; known topologies: {', '.join(TOPOLOGIES)}"
        ) from None


def unmapped_indices(topology: Topology) -> tuple[int, ...]:
    """Indices of the keypoints of ``topology`` that have no BlazePose counterpart, ascending."""
    return tuple(i for i, target in enumerate(topology.to_blazepose) if target is None)


def mapped_indices(topology: Topology) -> tuple[np.ndarray, np.ndarray]:
    """``(source, target)``: intp ``[M]`` indices in ``topology`` of its M keypoints that have a
    BlazePose counterpart (ascending), and ``[M]`` their BlazePose indices (0..32).

    The one definition of the remap between a topology and BlazePose's 33 landmarks: the numpy
    layouts of :mod:`blazepose.keypoints` and the in-graph ``blazepose.data.ops.map_topology``
    gather with it.
    """
    pairs = [(i, target) for i, target in enumerate(topology.to_blazepose) if target is not None]
    source, target = zip(*pairs) if pairs else ((), ())
    return np.asarray(source, dtype=np.intp), np.asarray(target, dtype=np.intp)
