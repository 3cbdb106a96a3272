"""Drawing pose results onto video frames with OpenCV (fast enough for 1080p at video rate).

Frames are uint8 ``[H, W, 3]`` in OpenCV's BGR order and are drawn on in place. Landmark
coordinates are continuous image pixels (see :class:`blazepose.inference.PoseResult`); OpenCV
draws at pixel indices, so points are shifted by half a pixel and drawn with sub-pixel precision.
"""

from __future__ import annotations

import cv2
import numpy as np

from blazepose.topology import BLAZEPOSE_33

_SHIFT = 4  # fractional bits of OpenCV's sub-pixel drawing
_EDGE_COLOUR = (255, 255, 255)  # BGR
_MASK_COLOUR = np.array([255, 120, 0], np.float32)  # BGR, a blue overlay
_TEXT_COLOUR = (255, 255, 255)


def visibility_colour(visibility: float) -> tuple[int, int, int]:
    """BGR from red (visibility 0) through yellow to green (visibility 1)."""
    v = float(np.clip(visibility, 0.0, 1.0))
    red = 255 if v < 0.5 else int(round(255 * (1.0 - v) * 2))
    green = 255 if v >= 0.5 else int(round(255 * v * 2))
    return (0, green, red)


def _fixed(point) -> tuple[int, int]:
    return (int(round((point[0] - 0.5) * (1 << _SHIFT))),
            int(round((point[1] - 0.5) * (1 << _SHIFT))))


def draw_pose(frame_bgr: np.ndarray, landmarks: np.ndarray, *, min_visibility: float = 0.5,
              edges=BLAZEPOSE_33.edges, radius: int | None = None) -> None:
    """Skeleton edges (white, between landmarks both at least ``min_visibility``) and
    visibility-coloured points.

    Args:
      frame_bgr: uint8 ``[H, W, 3]``, drawn on in place.
      landmarks: ``[K, >=4]``: x, y pixels, z, visibility (topology order of ``edges``).
    """
    height, width = frame_bgr.shape[:2]
    radius = radius or max(2, round(min(height, width) / 180))
    thickness = max(1, radius // 2 + 1)
    landmarks = np.asarray(landmarks, np.float64)
    finite = np.isfinite(landmarks[:, :2]).all(axis=1)
    visible = finite & (landmarks[:, 3] >= min_visibility)
    for a, b in edges:
        if visible[a] and visible[b]:
            cv2.line(frame_bgr, _fixed(landmarks[a]), _fixed(landmarks[b]), _EDGE_COLOUR,
                     thickness, cv2.LINE_AA, _SHIFT)
    for point, ok in zip(landmarks, finite):
        if ok:
            cv2.circle(frame_bgr, _fixed(point), radius << _SHIFT, visibility_colour(point[3]),
                       -1, cv2.LINE_AA, _SHIFT)


def draw_roi(frame_bgr: np.ndarray, corners: np.ndarray, colour=(0, 200, 255)) -> None:
    """The crop's outline from its ``[4, 2]`` corner points (pixels)."""
    points = np.array([_fixed(c) for c in corners], np.int32).reshape(-1, 1, 2)
    cv2.polylines(frame_bgr, [points], True, colour, 1, cv2.LINE_AA, _SHIFT)


def overlay_mask(frame_bgr: np.ndarray, mask: np.ndarray, corners: np.ndarray | None = None,
                 opacity: float = 0.5) -> None:
    """Tints the frame by a ``[H, W]`` probability mask (in place).

    Only the bounding box of ``corners`` (the crop, outside which the mask is 0) is touched when
    given, which keeps this cheap on large frames.
    """
    height, width = frame_bgr.shape[:2]
    x0, y0, x1, y1 = 0, 0, width, height
    if corners is not None:
        x0 = int(np.clip(np.floor(corners[:, 0].min()), 0, width))
        x1 = int(np.clip(np.ceil(corners[:, 0].max()), 0, width))
        y0 = int(np.clip(np.floor(corners[:, 1].min()), 0, height))
        y1 = int(np.clip(np.ceil(corners[:, 1].max()), 0, height))
    if x1 <= x0 or y1 <= y0:
        return
    region = frame_bgr[y0:y1, x0:x1]
    alpha = mask[y0:y1, x0:x1, None].astype(np.float32) * np.float32(opacity)
    blended = region.astype(np.float32) * (1.0 - alpha) + _MASK_COLOUR * alpha
    np.copyto(region, blended.astype(np.uint8))


def draw_text(frame_bgr: np.ndarray, text: str, line: int = 0) -> None:
    """A line of white text with a dark outline at the top left."""
    height = frame_bgr.shape[0]
    scale = max(0.5, height / 900)
    thickness = max(1, round(scale * 2))
    origin = (int(10 * scale), int((30 + 34 * line) * scale))
    cv2.putText(frame_bgr, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                thickness + 2, cv2.LINE_AA)
    cv2.putText(frame_bgr, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT_COLOUR,
                thickness, cv2.LINE_AA)


def draw_label(frame_bgr: np.ndarray, text: str, landmarks: np.ndarray) -> None:
    """``text`` (white on a dark outline) just above the topmost of the finite landmarks
    ``[K, >=2]`` (pixels)."""
    points = np.asarray(landmarks, np.float64)[:, :2]
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        return
    height, width = frame_bgr.shape[:2]
    scale = max(0.5, height / 900)
    thickness = max(1, round(scale * 2))
    x = int(np.clip(points[:, 0].mean(), 0, width - 1))
    y = int(np.clip(points[:, 1].min() - 12 * scale, 20 * scale, height - 1))
    for colour, extra in (((0, 0, 0), 2), ((0, 255, 255), 0)):
        cv2.putText(frame_bgr, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                    thickness + extra, cv2.LINE_AA)


def annotate(frame_bgr: np.ndarray, result, *, mask_overlay: bool = False,
             fps: float | None = None, show_roi: bool = False) -> None:
    """Everything the demo shows, in place: mask tint, skeleton, crop outline, FPS.

    Args:
      result: a :class:`blazepose.inference.PoseResult` or None (nothing found), or a list of
        them (several people: each also labelled with its ``track_id``).
    """
    if isinstance(result, list):
        for person in result:
            annotate(frame_bgr, person, mask_overlay=mask_overlay, show_roi=show_roi)
            if person.track_id is not None:
                draw_label(frame_bgr, f"#{person.track_id}", person.landmarks)
        result = None
    if result is not None:
        corners = result.roi.corners()
        if mask_overlay and result.segmentation is not None:
            overlay_mask(frame_bgr, result.segmentation, corners)
        if show_roi:
            draw_roi(frame_bgr, corners)
        draw_pose(frame_bgr, result.landmarks)
    if fps is not None:
        draw_text(frame_bgr, f"{fps:5.1f} FPS")
