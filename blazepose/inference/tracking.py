"""Several people in a video: identities, matching and the per-person state of the pipeline.

Used by :meth:`blazepose.inference.PosePipeline.process_frame_people` when ``max_people > 1``.
Everything here is numpy (and SciPy's assignment solver); image coordinates are the pipeline's
continuous pixels (x right, y down).

* A person's *box* is the axis-aligned bounding box ``(x_min, y_min, x_max, y_max)`` of its 33
  body landmarks in pixels (:func:`landmark_box`); boxes, not the square crops, are compared,
  because the crops of two people standing side by side overlap heavily.
* :func:`assign` pairs rows and columns of a score matrix (IoU of boxes) by the Hungarian method
  (``scipy.optimize.linear_sum_assignment``), keeping pairs at or above a minimum score.
* :func:`pose_distance` says whether two landmark sets are the same person (a duplicate track).
* :class:`Track`: one person's id, crop for the next frame, one-euro filters and motion.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment

from blazepose.inference import filters, geometry

FACE_LANDMARKS = slice(0, 11)  # nose, eyes, ears, mouth (BlazePose 33 order)
VELOCITY_ALPHA = 0.3  # low-pass coefficient of a track's velocity


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """float64 ``[4]`` ``(x_min, y_min, x_max, y_max)`` of landmarks ``[L, >=2]`` (pixels)."""
    points = np.asarray(landmarks, np.float64)[:, :2]
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """IoU matrix ``[N, M]`` of boxes ``[N, 4]`` and ``[M, 4]`` (x_min, y_min, x_max, y_max);
    0 for boxes of zero area."""
    a = np.asarray(first, np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(second, np.float64).reshape(-1, 4)[None, :, :]
    overlap = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]),
                      0.0, None)
    intersection = overlap[..., 0] * overlap[..., 1]
    area_a = np.prod(np.clip(a[..., 2:] - a[..., :2], 0.0, None), axis=-1)
    area_b = np.prod(np.clip(b[..., 2:] - b[..., :2], 0.0, None), axis=-1)
    union = area_a + area_b - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)


def box_cover(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """float64 ``[M]``: the fraction of ``box`` ``[4]``'s area inside each of ``others``
    ``[M, 4]`` (0 for a box of zero area)."""
    box = np.asarray(box, np.float64).reshape(4)
    others = np.asarray(others, np.float64).reshape(-1, 4)
    overlap = np.clip(np.minimum(box[2:], others[:, 2:]) - np.maximum(box[:2], others[:, :2]),
                      0.0, None)
    area = float(np.prod(np.clip(box[2:] - box[:2], 0.0, None)))
    return overlap[:, 0] * overlap[:, 1] / area if area > 0 else np.zeros(len(others))


def assign(scores: np.ndarray, min_score: float) -> list[tuple[int, int]]:
    """Hungarian assignment maximising the total score of ``[N, M]`` ``scores``.

    Returns ``(row, column)`` pairs, each row and column at most once, every pair scoring at
    least ``min_score`` (pairs below it are dropped after the assignment), by row.
    """
    scores = np.asarray(scores, np.float64)
    if scores.size == 0:
        return []
    rows, columns = linear_sum_assignment(scores, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, columns) if scores[r, c] >= min_score]


def pose_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Median distance between corresponding landmarks ``[L, >=2]`` of two poses, divided by the
    mean diagonal of their boxes: about 0 for the same person seen twice, large for two people."""
    a = np.asarray(first, np.float64)[:, :2]
    b = np.asarray(second, np.float64)[:, :2]
    diagonals = [np.hypot(*(box[2:] - box[:2])) for box in (landmark_box(a), landmark_box(b))]
    scale = max(float(np.mean(diagonals)), 1e-6)
    return float(np.median(np.linalg.norm(a - b, axis=-1)) / scale)


def face_box(landmarks: np.ndarray, scale: float = 3.0) -> np.ndarray:
    """A square ``[4]`` around the face landmarks 0-10 (pixels), ``scale`` times their larger
    extent (at least a tenth of the body box's larger side): where the person detector, which
    keys on faces, would place this person."""
    points = np.asarray(landmarks, np.float64)
    face = landmark_box(points[FACE_LANDMARKS])
    body = landmark_box(points[:33])
    side = max(scale * float(np.max(face[2:] - face[:2])), 0.1 * float(np.max(body[2:] - body[:2])))
    centre = 0.5 * (face[:2] + face[2:])
    return np.concatenate([centre - side / 2, centre + side / 2])


@dataclasses.dataclass
class Track:
    """One person followed through a video.

    Attributes:
      track_id: stable id, from 0 in order of appearance.
      next_roi: the crop for the next frame (from this frame's auxiliary landmarks), or None.
      box: float64 ``[4]`` the landmark box last seen (pixels).
      velocity: float64 ``[2]`` the box centre's speed, pixels per second, low-passed (for
        predicting where a lost person is; the box's corners move with the limbs, its centre
        with the person).
      last_time: seconds of the last frame the person was seen.
      last_frame: index of that frame.
      first_frame: index of the first frame the person was seen (-1: not yet).
      since_frame: that, or the frame the person was last found again after being lost.
    """

    track_id: int
    config: dataclasses.InitVar[object]
    next_roi: geometry.Roi | None = None
    box: np.ndarray | None = None
    velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))
    last_time: float = 0.0
    last_frame: int = -1
    first_frame: int = -1
    since_frame: int = -1

    def __post_init__(self, config):
        self.landmarks_filter = filters.OneEuroFilter(config.landmarks_filter)
        self.world_filter = filters.OneEuroFilter(config.world_landmarks_filter)
        self.aux_filter = filters.OneEuroFilter(config.auxiliary_filter)
        self.visibility_filter = filters.LowPassFilter(config.visibility_alpha)

    def reset_filters(self) -> None:
        for state in (self.landmarks_filter, self.world_filter, self.aux_filter,
                      self.visibility_filter):
            state.reset()

    def predicted_box(self, time_s: float, horizon_s: float) -> np.ndarray:
        """The last box moved at the centre's constant velocity to ``time_s`` (at most
        ``horizon_s`` ahead)."""
        elapsed = min(max(time_s - self.last_time, 0.0), horizon_s)
        return self.box + np.tile(self.velocity * elapsed, 2)

    def observe(self, box: np.ndarray, time_s: float, frame_index: int) -> None:
        """Records this frame's landmark box; the velocity is a low-passed difference of the
        box centres of consecutive frames."""
        box = np.asarray(box, np.float64)
        if self.box is not None and frame_index == self.last_frame + 1 and time_s > self.last_time:
            shift = 0.5 * ((box[:2] + box[2:]) - (self.box[:2] + self.box[2:]))
            self.velocity = (1 - VELOCITY_ALPHA) * self.velocity + VELOCITY_ALPHA * shift / (
                time_s - self.last_time)
        if self.first_frame < 0:
            self.first_frame = self.since_frame = frame_index
        self.box = box
        self.last_time = time_s
        self.last_frame = frame_index
