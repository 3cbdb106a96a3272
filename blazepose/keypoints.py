"""Operations on keypoint arrays in numpy (no TensorFlow): the one home of each of them.

* :func:`flip_keypoints`: the keypoints of the horizontally mirrored image (the data pipeline's
  in-graph ``blazepose.data.ops.mirror`` applies the same ``Topology.flip_permutation``;
  counting, classification and the synthetic tracks call this function);
* :func:`to_blazepose_layout` / :func:`from_blazepose_layout`: a data set's keypoints to and
  from BlazePose's 33 landmarks (by ``blazepose.topology.mapped_indices``);
* :func:`box_from_keypoints`: the box around the labelled points.

What a keypoint set *is* (names, edges, mirror partners, BlazePose counterparts) is defined in
:mod:`blazepose.topology`; this module only moves arrays by those facts. Conventions are the
topology module's: arrays ``[..., K, D]`` with x first, x continuous (pixel column i spans
``[i, i + 1)``; normalised coordinates likewise with width 1), left and right the person's own.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from blazepose.topology import NUM_BLAZEPOSE_LANDMARKS, Topology, mapped_indices

__all__ = ["box_from_keypoints", "flip_keypoints", "from_blazepose_layout",
           "to_blazepose_layout"]


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


def _keypoint_array(keypoints: npt.ArrayLike, num_keypoints: int, what: str) -> np.ndarray:
    array = np.asarray(keypoints)
    if array.ndim < 2 or array.shape[-2] != num_keypoints:
        raise ValueError(f"{what} must have shape [..., {num_keypoints}, D], got {array.shape}")
    return array


def to_blazepose_layout(
    keypoints: npt.ArrayLike,
    visibility: npt.ArrayLike | None,
    topology: Topology,
    fill_value: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Places the keypoints of ``topology`` at their BlazePose indices.

    Args:
      keypoints: ``[..., K, D]`` coordinates in ``topology``'s order.
      visibility: ``[..., K]`` per-keypoint visibility (any dtype), or None for all ones.
      topology: the topology of ``keypoints``; K is ``topology.num_keypoints``.
      fill_value: coordinate written where no keypoint maps.

    Returns:
      ``keypoints_33 [..., 33, D]`` (dtype of ``keypoints``), ``visibility_33 [..., 33]``
      (dtype of ``visibility``, 0 where no keypoint maps) and ``labelled_33 [..., 33]`` (bool,
      True exactly where a keypoint of ``topology`` maps; it does not look at visibility).
      Keypoints without a BlazePose counterpart are dropped (see
      ``blazepose.topology.unmapped_indices``).

    Raises:
      ValueError: the shapes do not match ``topology``.
    """
    points = _keypoint_array(keypoints, topology.num_keypoints, "keypoints")
    batch_shape = points.shape[:-2]
    if visibility is None:
        visible = np.ones(points.shape[:-1], dtype=np.float32)
    else:
        visible = np.asarray(visibility)
        if visible.shape != points.shape[:-1]:
            raise ValueError(f"visibility must have shape {points.shape[:-1]}, got {visible.shape}")
    source, target = mapped_indices(topology)
    points_33 = np.full(
        batch_shape + (NUM_BLAZEPOSE_LANDMARKS, points.shape[-1]), fill_value, dtype=points.dtype
    )
    visible_33 = np.zeros(batch_shape + (NUM_BLAZEPOSE_LANDMARKS,), dtype=visible.dtype)
    labelled_33 = np.zeros(batch_shape + (NUM_BLAZEPOSE_LANDMARKS,), dtype=bool)
    points_33[..., target, :] = points[..., source, :]
    visible_33[..., target] = visible[..., source]
    labelled_33[..., target] = True
    return points_33, visible_33, labelled_33


def from_blazepose_layout(
    keypoints_33: npt.ArrayLike, topology: Topology, fill_value: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Picks the keypoints of ``topology`` out of BlazePose-ordered landmarks.

    The inverse of :func:`to_blazepose_layout` on mapped keypoints, e.g. to compare BlazePose
    predictions with a data set's labels.

    Args:
      keypoints_33: ``[..., N, D]`` landmarks in BlazePose order, N >= 33 (the 39 model outputs
        are accepted; only the first 33 are read).
      topology: the topology to produce.
      fill_value: coordinate written for keypoints without a BlazePose counterpart.

    Returns:
      ``keypoints [..., K, D]`` in ``topology``'s order (dtype of ``keypoints_33``) and
      ``available [K]`` (bool, False for keypoints without a counterpart).

    Raises:
      ValueError: ``keypoints_33`` has fewer than 33 landmarks or fewer than 2 dimensions.
    """
    landmarks = np.asarray(keypoints_33)
    if landmarks.ndim < 2 or landmarks.shape[-2] < NUM_BLAZEPOSE_LANDMARKS:
        raise ValueError(
            f"keypoints_33 must have shape [..., N >= {NUM_BLAZEPOSE_LANDMARKS}, D], "
            f"got {landmarks.shape}"
        )
    source, target = mapped_indices(topology)
    points = np.full(
        landmarks.shape[:-2] + (topology.num_keypoints, landmarks.shape[-1]),
        fill_value,
        dtype=landmarks.dtype,
    )
    points[..., source, :] = landmarks[..., target, :]
    available = np.zeros(topology.num_keypoints, dtype=bool)
    available[source] = True
    return points, available


def flip_keypoints(
    keypoints: npt.ArrayLike, width: float | npt.ArrayLike, topology: Topology
) -> np.ndarray:
    """Keypoints of the horizontally mirrored image.

    x becomes ``width - x`` (pixel column i spans ``[i, i + 1)``, so the centre ``i + 0.5`` of
    column i goes to the centre of column ``width - 1 - i``; use ``width = 1`` for normalised
    coordinates), other coordinates are kept, and keypoints are reordered by
    ``topology.flip_permutation`` so that e.g. the left-wrist slot again holds a left wrist.
    Flipping twice with the same width gives back the input. Per-keypoint arrays such as
    visibility are reordered with ``np.take(v, topology.flip_permutation, axis=-1)``.

    Args:
      keypoints: ``[..., K, D]`` with x first, D >= 1.
      width: image width in the unit of x; a scalar or an array broadcastable to ``[..., K]``.
      topology: the topology of ``keypoints``.

    Returns:
      A new ``[..., K, D]`` array; integer input becomes floating when ``width`` is a float.

    Raises:
      ValueError: the shape does not match ``topology``.
    """
    points = _keypoint_array(keypoints, topology.num_keypoints, "keypoints")
    if points.shape[-1] < 1:
        raise ValueError(f"keypoints need at least one coordinate (x), got {points.shape}")
    width = width if np.isscalar(width) else np.asarray(width)
    flipped = np.take(points, topology.flip_permutation, axis=-2)
    flipped = flipped.astype(np.result_type(flipped, width), copy=False)
    flipped[..., 0] = width - flipped[..., 0]
    return flipped
