"""Plain-Python stand-ins for MediaPipe's landmark protobuf messages.

The legacy ``mediapipe.solutions`` returned ``NormalizedLandmarkList`` / ``LandmarkList``
protobufs; code written against them reads ``result.pose_landmarks.landmark[i].x`` and so on,
iterates ``.landmark``, takes ``len()`` of it and indexes it with ``PoseLandmark`` members.
These dataclasses support exactly that (and assignment to the fields), without protobuf.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np


@dataclasses.dataclass
class NormalizedLandmark:
    """One landmark in image coordinates normalised to the image size.

    Attributes:
      x, y: fractions of the image width and height; continuous coordinates: 0 is the left
        (top) edge of the image, 1 its right (bottom) edge, so pixel column ``c`` spans
        ``[c / W, (c + 1) / W)``. Points outside the image fall outside [0, 1].
      z: depth relative to the hips (smaller: nearer the camera), in units of the image width
        (as MediaPipe scales it: multiply by the width to get pixels).
      visibility: probability that the point is in the image and not occluded.
      presence: probability that the point is in the image.
    """

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    visibility: float = 0.0
    presence: float = 0.0


@dataclasses.dataclass
class Landmark:
    """One world landmark: metres, origin between the hips.

    Attributes:
      x, y, z: metres; x towards the image's right, y down, z depth (smaller: nearer the camera).
      visibility, presence: as in :class:`NormalizedLandmark`.
    """

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    visibility: float = 0.0
    presence: float = 0.0


def _from_array(kind, array) -> list:
    array = np.asarray(array, np.float64)
    if array.ndim != 2 or not 3 <= array.shape[1] <= 5:
        raise ValueError(f"landmarks must be [N, 3..5] (x, y, z[, visibility[, presence]]), "
                         f"got {list(array.shape)}")
    return [kind(*(float(value) for value in row)) for row in array]


def _to_array(landmarks) -> np.ndarray:
    return np.array([[p.x, p.y, p.z, p.visibility, p.presence] for p in landmarks],
                    np.float32).reshape(-1, 5)


class _LandmarkArrays:
    """``from_array`` / ``to_array`` of a list class whose items are ``_KIND``."""

    _KIND: ClassVar[type]
    landmark: list

    @classmethod
    def from_array(cls, array):
        """From ``[N, 3..5]`` x, y, z and optionally visibility, presence."""
        return cls(_from_array(cls._KIND, array))

    def to_array(self) -> np.ndarray:
        """float32 ``[N, 5]``: x, y, z, visibility, presence."""
        return _to_array(self.landmark)


@dataclasses.dataclass
class NormalizedLandmarkList(_LandmarkArrays):
    """``.landmark``: a list of :class:`NormalizedLandmark` (33 for a pose, BlazePose order);
    arrays hold normalised x, y, z."""

    _KIND: ClassVar[type] = NormalizedLandmark
    landmark: list[NormalizedLandmark] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class LandmarkList(_LandmarkArrays):
    """``.landmark``: a list of :class:`Landmark` (world landmarks); arrays hold metres."""

    _KIND: ClassVar[type] = Landmark
    landmark: list[Landmark] = dataclasses.field(default_factory=list)
