"""A small stand-in for the legacy ``mediapipe.solutions.drawing_utils.draw_landmarks``.

Draws a landmark list's points and connections in place on an image with numpy
(:func:`blazepose.drawing.draw_line`), no OpenCV needed. Colours are given in the image's own
channel order (MediaPipe's defaults were meant for OpenCV's BGR images: red points, light grey
lines). Not pixel-identical to MediaPipe's OpenCV drawing; for styled drawing bring your own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np

from blazepose.drawing import draw_line

WHITE_COLOR = (224, 224, 224)
RED_COLOR = (0, 0, 255)  # in BGR
# Points whose visibility is below this are not drawn, nor their connections.
VISIBILITY_THRESHOLD = 0.5


@dataclasses.dataclass(frozen=True)
class DrawingSpec:
    """Colour (one value per image channel), line thickness and point radius, in pixels."""

    color: tuple[int, ...] = WHITE_COLOR
    thickness: int = 2
    circle_radius: int = 2


def _pixel(landmark, width: int, height: int) -> tuple[float, float] | None:
    """Continuous pixel coordinates of a normalised landmark; None outside the image."""
    x, y = float(landmark.x), float(landmark.y)
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        return None
    return x * width, y * height


def draw_landmarks(image: np.ndarray, landmark_list,
                   connections: Iterable[tuple[int, int]] | None = None,
                   landmark_drawing_spec: DrawingSpec | Mapping[int, DrawingSpec] | None =
                   DrawingSpec(color=RED_COLOR),
                   connection_drawing_spec: DrawingSpec | Mapping[tuple[int, int], DrawingSpec]
                   = DrawingSpec()) -> None:
    """Draws normalised landmarks and their connections onto ``image`` in place.

    Args:
      image: uint8 ``[H, W, 3]``, modified in place.
      landmark_list: a :class:`~blazepose.solutions.landmarks.NormalizedLandmarkList` (e.g.
        ``results.pose_landmarks``), a sequence of landmarks with ``x``, ``y`` (normalised to the
        image) and ``visibility``, or None (nothing is drawn).
      connections: ``(start, end)`` index pairs, e.g. ``pose.POSE_CONNECTIONS``.
      landmark_drawing_spec: one spec for all points, a mapping index -> spec, or None to draw no
        points.
      connection_drawing_spec: one spec for all connections or a mapping pair -> spec.
    Raises:
      ValueError: not a 3-channel image, or a connection index out of range.
    """
    if landmark_list is None:
        return
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be [H, W, 3], got {list(image.shape)}")
    landmarks = list(getattr(landmark_list, "landmark", landmark_list))
    height, width = image.shape[:2]
    pixels = {}
    for index, landmark in enumerate(landmarks):
        visibility = getattr(landmark, "visibility", None)
        if visibility is not None and visibility < VISIBILITY_THRESHOLD:
            continue
        point = _pixel(landmark, width, height)
        if point is not None:
            pixels[index] = point
    for start, end in connections or ():
        if not (0 <= start < len(landmarks) and 0 <= end < len(landmarks)):
            raise ValueError(f"connection ({start}, {end}) is out of range for "
                             f"{len(landmarks)} landmarks")
        if start in pixels and end in pixels:
            spec = (connection_drawing_spec[(start, end)]
                    if isinstance(connection_drawing_spec, Mapping) else connection_drawing_spec)
            draw_line(image, pixels[start], pixels[end], spec.color, spec.thickness)
    if landmark_drawing_spec is None:
        return
    for index, point in pixels.items():
        spec = (landmark_drawing_spec[index] if isinstance(landmark_drawing_spec, Mapping)
                else landmark_drawing_spec)
        # A zero-length line is a filled disc of diameter `2 * radius`.
        draw_line(image, point, point, spec.color, 2 * spec.circle_radius + spec.thickness)
