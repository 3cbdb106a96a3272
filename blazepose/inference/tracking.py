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
* :func:`appearance` and :func:`appearance_distance`: the colours of a person's clothes where
  the landmarks place the torso, thighs, shins and upper arms, to tell people apart when their
  crops meet (the landmark network in a crop two people share may follow either of them).
* :class:`Track`: one person's id, crop for the next frame, one-euro filters and motion, and the
  appearance remembered from the frames where nobody stood in front of or behind the person.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from blazepose.inference import filters, geometry

FACE_LANDMARKS = slice(0, 11)  # nose, eyes, ears, mouth (BlazePose 33 order)
VELOCITY_ALPHA = 0.3  # low-pass coefficient of a track's velocity
# Head, shoulders, hips and legs: the landmarks of a person's core box (arms left out: spread
# arms reach over a neighbour without hiding them).
CORE_LANDMARKS = np.r_[0:13, 23:33]
APPEARANCE_PARTS = ("torso", "thighs", "shins", "upper_arms")
# Torso points: bilinear in the quadrilateral shoulders (11, 12) / hips (23, 24), (across, down).
_TORSO_GRID = tuple((across, down) for across in (0.3, 0.5, 0.7) for down in (0.25, 0.5, 0.75))
# Limb points: fractions along the segments of each part (left and right pooled, so that a
# left/right confusion of the network does not change the appearance).
_LIMB_SEGMENTS = (((23, 25), (24, 26)), ((25, 27), (26, 28)), ((11, 13), (12, 14)))
_LIMB_FRACTIONS = (0.3, 0.5, 0.7)
_PATCH_FRACTION = 0.015  # colour patch half-side / core box diagonal
_PATCH_SAMPLES = 5  # pixels read per row and column of a patch (evenly spread over it)
APPEARANCE_MEMORY = 20  # frames averaged into a track's appearance, then exponential forgetting
# Frames a tentative person must be seen alone, looking like none of the lost, to be someone new
# (the first frames after someone steps out from behind another show them partly hidden).
CONFIRM_FRAMES = 3


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


def cover_matrix(boxes: np.ndarray) -> np.ndarray:
    """float64 ``[N, N]``: entry ``(i, j)`` the fraction of box ``i``'s area inside box ``j``
    (boxes ``[N, 4]``; 0 for a box of zero area; the diagonal is 0)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    overlap = np.clip(np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
                      - np.maximum(boxes[:, None, :2], boxes[None, :, :2]), 0.0, None)
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0.0, None), axis=-1)
    cover = overlap[..., 0] * overlap[..., 1] / np.where(area > 0, area, 1.0)[:, None]
    cover[area <= 0] = 0.0
    np.fill_diagonal(cover, 0.0)
    return cover


def mutual_cover(first: np.ndarray, second: np.ndarray) -> float:
    """How much two boxes ``[4]`` overlap: the larger of the fractions of each one's area
    inside the other (1 when one holds the other, 0 when apart)."""
    return float(cover_matrix(np.stack([first, second]))[[0, 1], [1, 0]].max())


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


def core_box(landmarks: np.ndarray) -> np.ndarray:
    """float64 ``[4]`` box of the head, shoulder, hip and leg landmarks ``[33, >=2]`` (pixels)."""
    return landmark_box(np.asarray(landmarks)[CORE_LANDMARKS])


@dataclasses.dataclass(frozen=True)
class Appearance:
    """Mean colours of a person's clothes by body part.

    Attributes:
      colours: float64 ``[4, 3]`` RGB in [0, 1] per part of :data:`APPEARANCE_PARTS` (the
        median over the part's sample points of the mean colour of a small square around each).
      valid: bool ``[4]`` parts seen (at least two sample points on visible landmarks inside
        the image).
    """

    colours: np.ndarray
    valid: np.ndarray


def _sample_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The appearance sample points as fixed combinations of the 33 landmarks: weights float64
    ``[S, 33]`` (point = weights @ landmark x, y), part int ``[S]`` and the landmarks each needs
    visible, bool ``[S, 33]``."""
    weights, parts, needs = [], [], []
    for across, down in _TORSO_GRID:  # bilinear in shoulders 11, 12 / hips 23, 24
        row = np.zeros(33)
        row[[11, 12, 23, 24]] = [(1 - across) * (1 - down), across * (1 - down),
                                 (1 - across) * down, across * down]
        weights.append(row)
        parts.append(0)
        needs.append(np.isin(np.arange(33), [11, 12, 23, 24]))
    for part, segments in enumerate(_LIMB_SEGMENTS, start=1):
        for a, b in segments:
            for fraction in _LIMB_FRACTIONS:
                row = np.zeros(33)
                row[[a, b]] = [1 - fraction, fraction]
                weights.append(row)
                parts.append(part)
                needs.append(np.isin(np.arange(33), [a, b]))
    return np.array(weights), np.array(parts), np.array(needs)


_SAMPLE_WEIGHTS, _SAMPLE_PARTS, _SAMPLE_NEEDS = _sample_layout()


def appearance(image: np.ndarray, landmarks: np.ndarray, min_visibility: float = 0.5
               ) -> Appearance:
    """The :class:`Appearance` of the person whose landmarks ``[33, 5]`` (x, y pixels, z,
    visibility, presence) lie on ``image`` (uint8 RGB ``[H, W, 3]``).

    Sample points: 9 on the torso, 3 along each thigh, shin and upper arm; a point counts when
    the landmarks it lies between are visible (``min_visibility``) and it is inside the image.
    Each point's colour is the mean of a square around it (side about 3 % of the core box's
    diagonal, clipped to the image; read on a grid of at most 5 x 5 pixels); a part's colour is
    the median of its points' (at least 2).
    """
    points = np.asarray(landmarks, np.float64)[:33]
    height, width = image.shape[:2]
    box = core_box(points)
    half = max(1, int(round(_PATCH_FRACTION * float(np.hypot(*(box[2:] - box[:2]))))))
    samples = _SAMPLE_WEIGHTS @ points[:, :2]
    visible = points[:, 3] >= min_visibility
    usable = ((~_SAMPLE_NEEDS | visible).all(axis=1) & np.isfinite(samples).all(axis=1)
              & (samples[:, 0] >= 0) & (samples[:, 0] < width)
              & (samples[:, 1] >= 0) & (samples[:, 1] < height))
    colours = np.zeros((len(APPEARANCE_PARTS), 3))
    valid = np.zeros(len(APPEARANCE_PARTS), bool)
    if not usable.any():
        return Appearance(colours, valid)
    offsets = np.unique(np.linspace(-half, half, _PATCH_SAMPLES).round().astype(np.int64))
    columns = np.clip(samples[usable, 0].astype(np.int64)[:, None] + offsets, 0, width - 1)
    rows = np.clip(samples[usable, 1].astype(np.int64)[:, None] + offsets, 0, height - 1)
    means = image[rows[:, :, None], columns[:, None, :]].reshape(len(rows), -1, 3).mean(
        axis=1) / 255.0
    parts = _SAMPLE_PARTS[usable]
    for part in range(len(APPEARANCE_PARTS)):
        chosen = parts == part
        if chosen.sum() >= 2:
            colours[part], valid[part] = np.median(means[chosen], axis=0), True
    return Appearance(colours, valid)


def appearance_distance(first: Appearance, second: Appearance) -> float:
    """Mean RGB distance (0 to sqrt(3)) over the parts both saw; NaN when they share none."""
    common = first.valid & second.valid
    if not common.any():
        return math.nan
    return float(np.mean(np.linalg.norm(first.colours[common] - second.colours[common], axis=-1)))


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
      appearance: the person's :class:`Appearance` averaged over the frames where nobody
        overlapped them (:meth:`remember`), or None before the first such frame.
      appearance_frames: int ``[4]`` frames averaged per part (at most
        :data:`APPEARANCE_MEMORY`).
      confirmed: False for a new person found while lost people may come back: not reported
        (``track_id`` -1) until their appearance, seen with nobody overlapping, shows that
        they are one of the lost, or on :data:`CONFIRM_FRAMES` such frames that they are not.
      tentative_frames: frames the person, not yet confirmed, was seen with nobody overlapping.
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
    appearance: Appearance | None = None
    appearance_frames: np.ndarray = dataclasses.field(
        default_factory=lambda: np.zeros(len(APPEARANCE_PARTS), np.int64))
    confirmed: bool = True
    tentative_frames: int = 0

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

    def remember(self, seen: Appearance) -> None:
        """Averages ``seen`` into the track's appearance, per part (the last
        :data:`APPEARANCE_MEMORY` frames weigh most)."""
        if self.appearance is None:
            self.appearance = Appearance(np.zeros_like(seen.colours), np.zeros_like(seen.valid))
        frames = np.where(seen.valid, np.minimum(self.appearance_frames + 1, APPEARANCE_MEMORY),
                          self.appearance_frames)
        weight = np.where(seen.valid, 1.0 / np.maximum(frames, 1), 0.0)[:, None]
        colours = self.appearance.colours + weight * (seen.colours - self.appearance.colours)
        self.appearance = Appearance(colours, self.appearance.valid | seen.valid)
        self.appearance_frames = frames

    def identity(self) -> tuple:
        """Who the track is: ``(track_id, first_frame, appearance, appearance_frames)``."""
        return (self.track_id, self.first_frame, self.appearance, self.appearance_frames)

    def take_identity(self, identity: tuple) -> None:
        """Becomes the person of :meth:`identity` ``identity``, keeping where this track's crop,
        filters and motion are: used when the appearance shows that a crop follows another
        person than its track's."""
        self.track_id, self.first_frame, self.appearance, self.appearance_frames = identity
