"""Operations on keypoint arrays in numpy (no TensorFlow): boxes around labelled points.

Coordinates are pixels, ``(x, y)`` with the origin at the image's top-left corner. Operations
that depend on a keypoint set (the horizontal flip, moving between a data set's layout and
BlazePose's 33 landmarks) live with the set's definition in :mod:`blazepose.topology`
(``flip_keypoints``, ``to_blazepose_layout``, ``from_blazepose_layout``, ``mapped_indices``).
"""

from __future__ import annotations

import numpy as np


def box_from_keypoints(keypoints: np.ndarray, labelled: np.ndarray, width: int, height: int
                       ) -> np.ndarray:
    """float32 ``[4]`` ``x_min, y_min, x_max, y_max`` around the labelled points of
    ``keypoints`` (``[K, 2]`` pixels; ``labelled`` bool ``[K]``), clipped to a ``width`` x
    ``height`` image; the whole image when nothing is labelled."""
    points = np.asarray(keypoints, np.float32)[np.asarray(labelled, bool)]
    if len(points) == 0:
        return np.array([0, 0, width, height], np.float32)
    low = np.clip(points.min(axis=0), 0, [width, height])
    high = np.clip(points.max(axis=0), 0, [width, height])
    return np.array([low[0], low[1], high[0], high[1]], np.float32)
