"""Crop geometry of the single-person pipeline, in numpy and OpenCV (inference time only).

Coordinate conventions (the project's, see ``README.md``):

* Image coordinates are continuous pixels: pixel ``(row, col)`` spans ``[col, col + 1) x
  [row, row + 1)``; a point is ``(x, y)``, x to the right, y down. Its centre is at
  ``(col + 0.5, row + 0.5)``.
* A :class:`Roi` is a square in image pixels: centre, side and rotation. ``rotation`` is
  MediaPipe's ``NormalizedRect.rotation``: radians, clockwise as seen on screen; the crop's "up"
  (towards its row 0) points from the centre towards the person's head.
* Crop coordinates are normalised to the ``S x S`` crop (S = 256 for the landmark network):
  ``(u, v)`` in [0, 1], continuous like image pixels, so crop pixel ``j`` spans
  ``[j / S, (j + 1) / S)``.

The crop is the affine map ``image = centre + side * R(rotation) @ (crop - 0.5)`` (MediaPipe's
``LandmarkProjectionCalculator``), which :func:`project_landmarks` applies to the network's
outputs. How pixels are sampled (:data:`SAMPLINGS`, for the crop and the detector's letterbox):

* ``"mediapipe"`` (default): as MediaPipe's CPU ``ImageToTensorCalculator``, which hands OpenCV's
  ``warpPerspective`` the rectangle's continuous corners as if they were pixel *indices*: tensor
  pixel ``j`` samples image index ``corner + j * step`` (step = rectangle side / tensor side)
  instead of the pixel centre ``corner + (j + 0.5) * step - 0.5``. An upright crop lies
  ``(step - 1) / 2`` image pixels up and left of the rectangle (about 2 px for a 1200 px person
  crop); the network sees exactly what it sees inside MediaPipe. Measured against
  MediaPipe 1.2.2 on 28 real photos (``launch.mediapipe_parity --pipeline``), this and the
  letterbox below brought the median landmark distance from 5.0 px to 0.7 px.
* ``"pixel_centers"``: every tensor pixel samples the image at the centre of the area it
  covers, so cropping and projecting back are exact inverses.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

ROI_SCALE = 1.25  # MediaPipe's RectTransformationCalculator scale for the pose ROI
ROI_TARGET_ANGLE = math.pi / 2  # keypoint 1 straight above keypoint 0 means no rotation
SAMPLINGS = ("mediapipe", "pixel_centers")


@dataclasses.dataclass(frozen=True)
class Roi:
    """A square, rotated region of an image, in pixels.

    Attributes:
      center_x, center_y: the centre, continuous image pixels.
      size: the side, pixels.
      rotation: radians in ``[-pi, pi)``, clockwise on screen (0: upright crop).
    """

    center_x: float
    center_y: float
    size: float
    rotation: float

    def normalized(self, image_width: int, image_height: int) -> dict[str, float]:
        """MediaPipe's ``NormalizedRect`` fields for an image of this size."""
        return {"x_center": self.center_x / image_width, "y_center": self.center_y / image_height,
                "width": self.size / image_width, "height": self.size / image_height,
                "rotation": self.rotation}

    def corners(self) -> np.ndarray:
        """float32 ``[4, 2]`` image (x, y) of the crop's top-left, top-right, bottom-right and
        bottom-left corners (top = the side towards the head)."""
        unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
        return project_points(unit, self).astype(np.float32)

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def normalize_radians(angle: float) -> float:
    """MediaPipe's ``NormalizeRadians``: the angle in ``[-pi, pi)``."""
    return angle - 2.0 * math.pi * math.floor((angle + math.pi) / (2.0 * math.pi))


def roi_from_keypoints(center: np.ndarray, scale_point: np.ndarray, scale: float = ROI_SCALE
                       ) -> Roi:
    """The crop for the landmark network from two alignment points, in image pixels.

    MediaPipe's ``AlignmentPointsRectsCalculator`` (target angle 90 degrees) followed by
    ``RectTransformationCalculator`` (``square_long``, ``scale``), used both on the detector's
    keypoints 0 and 1 (mid-hip, full-body size/rotation point) and on the auxiliary landmarks
    33 and 34 of the previous frame: centre = ``center``; side = ``2 * |scale_point - center| *
    scale``; rotation = ``90 deg - atan2(-(y1 - y0), x1 - x0)``, normalised to ``[-pi, pi)``.
    Working in pixels makes non-square images come out right.

    Args:
      center, scale_point: ``(x, y)`` image pixels (more entries, e.g. z, are ignored).
      scale: ``1.25`` for the crop; ``1.0`` gives the object-scale ROI of MediaPipe's landmark
        smoothing.
    """
    x0, y0 = float(center[0]), float(center[1])
    x1, y1 = float(scale_point[0]), float(scale_point[1])
    side = 2.0 * math.hypot(x1 - x0, y1 - y0) * scale
    rotation = normalize_radians(ROI_TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0))
    return Roi(x0, y0, side, rotation)


def _rotation(roi: Roi) -> tuple[float, float]:
    return math.cos(roi.rotation), math.sin(roi.rotation)


def project_points(points: np.ndarray, roi: Roi) -> np.ndarray:
    """Crop-normalised ``[..., 2]`` (u, v) -> image pixels ``[..., 2]`` (x, y), float64."""
    points = np.asarray(points, np.float64)
    cos, sin = _rotation(roi)
    u = points[..., 0] - 0.5
    v = points[..., 1] - 0.5
    x = roi.center_x + roi.size * (cos * u - sin * v)
    y = roi.center_y + roi.size * (sin * u + cos * v)
    return np.stack([x, y], axis=-1)


def unproject_points(points: np.ndarray, roi: Roi) -> np.ndarray:
    """Image pixels ``[..., 2]`` (x, y) -> crop-normalised ``[..., 2]`` (u, v): the inverse of
    :func:`project_points`."""
    points = np.asarray(points, np.float64)
    cos, sin = _rotation(roi)
    dx = (points[..., 0] - roi.center_x) / roi.size
    dy = (points[..., 1] - roi.center_y) / roi.size
    return np.stack([cos * dx + sin * dy + 0.5, -sin * dx + cos * dy + 0.5], axis=-1)


def project_landmarks(landmarks: np.ndarray, roi: Roi) -> np.ndarray:
    """Crop-normalised landmarks -> image pixels (MediaPipe's ``LandmarkProjectionCalculator``).

    Args:
      landmarks: ``[L, D]``, D >= 3: u, v, z normalised to the crop (z on the scale of u), then
        any further columns (visibility, presence), which pass through.
    Returns:
      float32 ``[L, D]``: x, y in image pixels, z in image pixels (``z * roi.size``, the crop
      width, as MediaPipe scales z like x), the other columns unchanged.
    """
    landmarks = np.asarray(landmarks)
    result = np.array(landmarks, np.float32, copy=True)
    result[:, :2] = project_points(landmarks[:, :2], roi)
    result[:, 2] = landmarks[:, 2] * roi.size
    return result


def rotate_world_landmarks(world_landmarks: np.ndarray, rotation: float) -> np.ndarray:
    """MediaPipe's ``WorldLandmarkProjectionCalculator``: x, y rotated by the crop rotation.

    Args:
      world_landmarks: ``[L, 3]`` metres (hip-centred) as the network predicts them in the
        upright crop.
    Returns:
      float32 ``[L, 3]``: ``x' = cos x - sin y``, ``y' = sin x + cos y``, z unchanged.
    """
    world = np.asarray(world_landmarks, np.float32)
    cos, sin = math.cos(rotation), math.sin(rotation)
    result = world.copy()
    result[:, 0] = cos * world[:, 0] - sin * world[:, 1]
    result[:, 1] = sin * world[:, 0] + cos * world[:, 1]
    return result


def crop_to_image_matrix(roi: Roi, crop_size: int) -> np.ndarray:
    """float64 ``[2, 3]`` affine map from crop pixel *indices* to image pixel *indices*.

    OpenCV addresses pixel ``i`` by its index, whose continuous centre is ``i + 0.5``: crop index
    ``j`` -> crop ``(j + 0.5) / S`` -> image point ``p`` (:func:`project_points`) -> image index
    ``p - 0.5``.
    """
    cos, sin = _rotation(roi)
    step = roi.size / crop_size
    linear = np.array([[cos, -sin], [sin, cos]]) * step
    # image_index = linear @ (crop_index + 0.5 - S / 2) + centre - 0.5
    offset = linear @ np.full(2, 0.5 - crop_size / 2.0) + np.array(
        [roi.center_x - 0.5, roi.center_y - 0.5])
    return np.concatenate([linear, offset[:, None]], axis=1)


def check_sampling(sampling: str) -> str:
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    return sampling


def mediapipe_warp(image: np.ndarray, center_x: float, center_y: float, width: float,
                   height: float, rotation: float, output_size: int, border: int,
                   border_value: float = 0.0) -> np.ndarray:
    """MediaPipe's CPU ``ImageToTensorCalculator`` resampling of a rotated rectangle.

    The rectangle's four continuous corners (OpenCV ``boxPoints`` of the rotated rect, float32)
    are mapped onto the tensor's corner *indices* ``(0, 0) .. (S, S)`` by a perspective transform,
    and ``warpPerspective`` samples bilinearly (OpenCV's 1/32-pixel fixed point) with ``border``.

    Args:
      image: ``[H, W, C]`` (uint8: sampled in OpenCV's uint8 arithmetic, as MediaPipe does).
      center_x, center_y, width, height: the rectangle in continuous image pixels.
      rotation: radians, clockwise on screen.
    Returns:
      ``[S, S, C]`` of the image's dtype, ``S = output_size``.
    """
    corners = cv2.boxPoints(((float(center_x), float(center_y)), (float(width), float(height)),
                             float(rotation) * 180.0 / math.pi)).astype(np.float32)
    size = float(output_size)
    # boxPoints lists bottom-left, top-left, top-right, bottom-right of the upright rectangle.
    targets = np.array([[0.0, size], [0.0, 0.0], [size, 0.0], [size, size]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners, targets)
    return cv2.warpPerspective(image, matrix, (output_size, output_size), flags=cv2.INTER_LINEAR,
                               borderMode=border, borderValue=border_value)


def crop_image(image: np.ndarray, roi: Roi, crop_size: int, border: int = cv2.BORDER_REPLICATE,
               sampling: str = "mediapipe") -> np.ndarray:
    """The rotated square ``roi`` of ``image`` resampled to ``crop_size x crop_size``.

    Bilinear; outside the image the border pixels are repeated (MediaPipe's
    ``ImageToTensorCalculator`` default, ``BORDER_REPLICATE``). ``sampling``: see
    :data:`SAMPLINGS` in the module docstring.

    Args:
      image: ``[H, W, C]`` (uint8 or float32).
      crop_size: S, the output side in pixels.
    Returns:
      ``[S, S, C]`` of the image's dtype.
    """
    if check_sampling(sampling) == "mediapipe":
        return mediapipe_warp(image, roi.center_x, roi.center_y, roi.size, roi.size,
                              roi.rotation, crop_size, border)
    matrix = crop_to_image_matrix(roi, crop_size)
    return cv2.warpAffine(image, matrix, (crop_size, crop_size),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border)


def crop_mask_to_image(mask: np.ndarray, roi: Roi, image_width: int, image_height: int
                       ) -> np.ndarray:
    """A crop-space ``[S, S]`` float mask warped back onto the image (zero outside the crop).

    Returns float32 ``[image_height, image_width]``.
    """
    mask = np.asarray(mask, np.float32)
    matrix = crop_to_image_matrix(roi, mask.shape[0])
    return cv2.warpAffine(mask, matrix, (image_width, image_height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


@dataclasses.dataclass(frozen=True)
class Letterbox:
    """Where an image sits inside the square detector input.

    Attributes:
      padding: ``(left, top, right, bottom)`` fractions of the square (MediaPipe's
        ``LETTERBOX_PADDING``) of the placement actually used.
    """

    padding: tuple[float, float, float, float]

    def remove(self, points: np.ndarray) -> np.ndarray:
        """Normalised ``[..., 2]`` points of the square -> normalised points of the image."""
        left, top, right, bottom = self.padding
        points = np.asarray(points, np.float64)
        return (points - np.array([left, top])) / np.array([1.0 - left - right,
                                                            1.0 - top - bottom])


def letterbox_image(image: np.ndarray, size: int, sampling: str = "mediapipe"
                    ) -> tuple[np.ndarray, Letterbox]:
    """The whole image fitted into a ``size x size`` square, aspect kept, centred, in [-1, 1].

    ``sampling="mediapipe"`` (default): MediaPipe's ``keep_aspect_ratio`` letterbox, the square
    of side ``max(H, W)`` centred on the image warped onto the tensor (:func:`mediapipe_warp`,
    ``BORDER_ZERO``), so the padding is fractional. ``"pixel_centers"``: one ``cv2.resize``
    (bilinear at pixel centres) to ``round(W * size / max(H, W)) x round(H * size / max(H, W))``,
    placed centred at whole pixels. Either way the border is -1 (0 in 0..255, MediaPipe's
    ``BORDER_ZERO`` before its [-1, 1] conversion).

    Args:
      image: uint8 ``[H, W, 3]`` RGB (float32 in 0..255 works too, resampled exactly; uint8
        resampling is OpenCV's fixed-point, within 1 intensity level).
    Returns:
      ``(square, letterbox)``: float32 ``[size, size, 3]`` in [-1, 1] and the placement.
    """
    height, width = image.shape[:2]
    if check_sampling(sampling) == "mediapipe":
        side = float(max(height, width))
        square = mediapipe_warp(image, width / 2.0, height / 2.0, side, side, 0.0, size,
                                cv2.BORDER_CONSTANT)
        horizontal = (1.0 - width / side) / 2.0
        vertical = (1.0 - height / side) / 2.0
        square = square.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)
        return square, Letterbox((horizontal, vertical, horizontal, vertical))
    scale = size / max(height, width)
    new_width = min(size, max(1, round(width * scale)))
    new_height = min(size, max(1, round(height * scale)))
    resized = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    left = (size - new_width) // 2
    top = (size - new_height) // 2
    square = np.full((size, size, image.shape[2]), -1.0, np.float32)
    square[top:top + new_height, left:left + new_width] = resized * np.float32(1 / 127.5) - 1.0
    padding = (left / size, top / size, (size - left - new_width) / size,
               (size - top - new_height) / size)
    return square, Letterbox(padding)
