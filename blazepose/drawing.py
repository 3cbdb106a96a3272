"""Drawing skeletons onto images with numpy (no OpenCV needed), for pictures and summaries.

Coordinates are image pixels, continuous: pixel ``(row, col)`` spans ``[col, col + 1) x
[row, row + 1)``, so a point at ``x = col + 0.5`` is drawn centred on column ``col``.
"""

from __future__ import annotations

import numpy as np

from blazepose.topology import Topology

VISIBLE_COLOUR = (40, 220, 60)
HIDDEN_COLOUR = (230, 50, 50)
EDGE_COLOUR = (255, 255, 255)


def _stamp(image: np.ndarray, x: float, y: float, radius: float, colour) -> None:
    height, width = image.shape[:2]
    cx, cy = x - 0.5, y - 0.5
    r = int(np.ceil(radius))
    rows = np.arange(max(0, int(cy) - r), min(height, int(cy) + r + 2))
    cols = np.arange(max(0, int(cx) - r), min(width, int(cx) + r + 2))
    if rows.size == 0 or cols.size == 0:
        return
    inside = (rows[:, None] - cy) ** 2 + (cols[None, :] - cx) ** 2 <= radius ** 2
    block = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    block[inside] = colour


def draw_line(image: np.ndarray, start, end, colour=EDGE_COLOUR, thickness: float = 2.0) -> None:
    """Draws a line between two (x, y) pixel points in place."""
    length = float(np.hypot(end[0] - start[0], end[1] - start[1]))
    for t in np.linspace(0.0, 1.0, max(2, int(length * 2) + 1)):
        _stamp(image, start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]),
               thickness / 2, colour)


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray, topology: Topology,
                  visibility: np.ndarray | None = None, min_visibility: float = 0.5,
                  radius: float | None = None) -> np.ndarray:
    """Returns a copy of ``image`` with the skeleton drawn.

    Args:
      image: uint8 ``[H, W, 3]``.
      keypoints: ``[K, >=2]`` x, y in pixels, in ``topology``'s order.
      visibility: optional ``[K]`` in [0, 1]; points below ``min_visibility`` are drawn red and
        their edges are skipped.
    """
    image = np.array(image, dtype=np.uint8, copy=True)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape[0] != topology.num_keypoints:
        raise ValueError(f"{keypoints.shape[0]} keypoints for topology {topology.name} with "
                         f"{topology.num_keypoints}")
    visible = (np.ones(len(keypoints), bool) if visibility is None
               else np.asarray(visibility) >= min_visibility)
    radius = radius or max(2.0, min(image.shape[:2]) / 120)
    for a, b in topology.edges:
        if visible[a] and visible[b]:
            draw_line(image, keypoints[a, :2], keypoints[b, :2], EDGE_COLOUR, radius * 0.8)
    for point, is_visible in zip(keypoints, visible):
        _stamp(image, point[0], point[1], radius, VISIBLE_COLOUR if is_visible else HIDDEN_COLOUR)
    return image
