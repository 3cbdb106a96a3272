"""Evaluation metrics for 2D keypoints: PCK, PCKh, mean error, visibility accuracy, COCO OKS AP.

Conventions used throughout:

* Keypoints are ``[N, K, D]`` float arrays, D >= 2: N examples (one person each), K keypoints in
  a :class:`~blazepose.topology.Topology`'s order, and x, y as the first two coordinates (further
  coordinates such as z are ignored). Any unit works (pixels, normalised) as long as predictions,
  ground truth and normalisers share it; the documentation says "pixels".
* ``labelled`` is ``[N, K]`` (bool, or numbers read as ``!= 0``): True where the ground truth has a
  keypoint. **Only labelled keypoints count**, in every metric and every count. The coordinates,
  visibility and predictions of unlabelled keypoints are never read for a result, so they may hold
  anything, NaN included. (The original tf-blazepose counted unlabelled keypoints; we do not.)
* Predictions must be in the ground truth's topology; convert BlazePose outputs with
  :func:`blazepose.keypoints.from_blazepose_layout` and mark keypoints without a counterpart as
  unlabelled.
* A keypoint is correct for PCK / PCKh when its Euclidean error is ``<= threshold * normaliser``.
  Examples whose normaliser is NaN, infinite or ``<= 0`` are excluded from that metric and counted.
* Fractions are NaN when nothing was counted (e.g. a keypoint that is never labelled).
* Non-finite predicted coordinates of labelled keypoints count as misses for PCK and make the
  mean error non-finite, so that they are noticed.

The torso size (normaliser of BlazePose's PCK@0.2) and the MPII head size (of PCKh@0.5) are
defined in :func:`torso_size` and :func:`mpii_head_size`.

Everything except :func:`coco_oks_ap` needs only numpy; that function imports pycocotools (the
``coco`` extra) when called.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from blazepose.topology import Topology

__all__ = [
    "COCO_OKS_STAT_NAMES",
    "DEFAULT_VISIBILITY_THRESHOLD",
    "MPII_HEAD_SIZE_FACTOR",
    "CocoKeypointGroundTruth",
    "CocoKeypointPredictions",
    "KeypointAccuracy",
    "KeypointMeanError",
    "PckResult",
    "PoseEvaluator",
    "COCO_OKS_SIGMAS",
    "TrackingResult",
    "coco_oks_ap",
    "match_people",
    "object_keypoint_similarity",
    "tracking_metrics",
    "mean_pixel_error",
    "mpii_head_size",
    "pck",
    "pckh",
    "torso_keypoint_indices",
    "torso_size",
    "visibility_accuracy",
]

MPII_HEAD_SIZE_FACTOR = 0.6
"""MPII's PCKh head size is this factor times the diagonal of the annotated head rectangle."""

DEFAULT_VISIBILITY_THRESHOLD = 0.5
"""A predicted visibility probability ``>=`` this means "visible" (MediaPipe's drawing rule)."""

# ---------------------------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------------------------


def _fraction(numerator: npt.ArrayLike, denominator: npt.ArrayLike) -> np.ndarray:
    """Element-wise ``numerator / denominator`` as float64, NaN where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


class _PerKeypointMean:
    """A per-keypoint sum ``[K]`` over ``num_counted_per_keypoint`` ``[K]`` counted keypoints,
    and its mean per keypoint and over all of them; subclasses name the sum."""

    num_counted_per_keypoint: np.ndarray

    def _sum_per_keypoint(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def per_keypoint(self) -> np.ndarray:
        """``[K]`` float64 mean per keypoint; NaN for a keypoint that was never counted."""
        return _fraction(self._sum_per_keypoint(), self.num_counted_per_keypoint)

    @property
    def overall(self) -> float:
        """Mean over all counted (example, keypoint) pairs; NaN if none."""
        return float(_fraction(self._sum_per_keypoint().sum(), self.num_counted))

    @property
    def num_counted(self) -> int:
        """Counted (example, keypoint) pairs."""
        return int(self.num_counted_per_keypoint.sum())


@dataclass(frozen=True, eq=False)
class KeypointAccuracy(_PerKeypointMean):
    """Fraction of the counted keypoints that are correct, per keypoint and over all of them
    (``per_keypoint``, ``overall``; NaN where nothing was counted).

    Attributes:
      num_correct_per_keypoint: ``[K]`` int64, counted keypoints that are correct.
      num_counted_per_keypoint: ``[K]`` int64, keypoints that took part (labelled, and for PCK in
        an example with a valid normaliser).
    """

    num_correct_per_keypoint: np.ndarray
    num_counted_per_keypoint: np.ndarray

    def _sum_per_keypoint(self) -> np.ndarray:
        return self.num_correct_per_keypoint

    @property
    def num_correct(self) -> int:
        """Correct (example, keypoint) pairs."""
        return int(self.num_correct_per_keypoint.sum())


@dataclass(frozen=True, eq=False)
class PckResult(KeypointAccuracy):
    """PCK (or PCKh) result: :class:`KeypointAccuracy` plus what was excluded.

    Attributes:
      threshold: the fraction of the normaliser within which a keypoint is correct.
      num_examples_without_normaliser: examples whose normaliser was NaN, infinite or ``<= 0``;
        none of their keypoints were counted.
    """

    threshold: float
    num_examples_without_normaliser: int


@dataclass(frozen=True, eq=False)
class KeypointMeanError(_PerKeypointMean):
    """Mean Euclidean error of labelled keypoints, per keypoint and over all of them
    (``per_keypoint``, ``overall``; NaN where nothing was labelled).

    Attributes:
      error_sum_per_keypoint: ``[K]`` float64, sum of the errors of the labelled keypoints.
      num_counted_per_keypoint: ``[K]`` int64, labelled keypoints.
    """

    error_sum_per_keypoint: np.ndarray
    num_counted_per_keypoint: np.ndarray

    def _sum_per_keypoint(self) -> np.ndarray:
        return self.error_sum_per_keypoint


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _points(keypoints: npt.ArrayLike, what: str) -> np.ndarray:
    """``[N, K, D >= 2]`` -> float64 ``[N, K, 2]`` (x, y)."""
    array = np.asarray(keypoints, dtype=np.float64)
    if array.ndim != 3 or array.shape[-1] < 2:
        raise ValueError(f"{what} must have shape [N, K, D >= 2], got {array.shape}")
    return array[..., :2]


def _mask(labelled: npt.ArrayLike, shape: tuple[int, int], what: str = "labelled") -> np.ndarray:
    array = np.asarray(labelled)
    if array.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {array.shape}")
    return array.astype(bool)


def _per_example(values: npt.ArrayLike, num_examples: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (num_examples,):
        raise ValueError(f"{what} must have shape ({num_examples},) ([N]), got {array.shape}")
    return array


def _check_threshold(threshold: float, what: str) -> float:
    threshold = float(threshold)
    if not math.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"{what} must be a finite number > 0, got {threshold}")
    return threshold


def _prediction_and_truth(
    pred_keypoints: npt.ArrayLike, gt_keypoints: npt.ArrayLike, labelled: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked float64 ``pred [N, K, 2]``, ``gt [N, K, 2]`` and bool ``labelled [N, K]``.

    Raises:
      ValueError: shapes differ, or a labelled ground-truth coordinate is not finite.
    """
    pred = _points(pred_keypoints, "pred_keypoints")
    gt = _points(gt_keypoints, "gt_keypoints")
    if pred.shape != gt.shape:
        raise ValueError(
            f"pred_keypoints and gt_keypoints must have the same [N, K], got {pred.shape[:2]} "
            f"and {gt.shape[:2]}"
        )
    mask = _mask(labelled, gt.shape[:2])
    if not np.isfinite(gt[mask]).all():
        raise ValueError("labelled ground-truth keypoints must have finite coordinates")
    return pred, gt, mask


def _errors(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[N, K]`` Euclidean errors, 0 where not labelled (so unlabelled NaNs never spread)."""
    with np.errstate(invalid="ignore", over="ignore"):
        distances = np.linalg.norm(pred - gt, axis=-1)
    return np.where(mask, distances, 0.0)


# ---------------------------------------------------------------------------------------------
# Normalisers
# ---------------------------------------------------------------------------------------------

# Same tokenisation idea as the topology module's names: separators, camelCase and digit
# boundaries split a name into words; "l"/"r" are read as "left"/"right".
_NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SHORT_SIDES = {"l": "left", "r": "right"}
_TORSO_PARTS = (
    ("left", "shoulder"),
    ("right", "shoulder"),
    ("left", "hip"),
    ("right", "hip"),
)


def _name_words(keypoint_name: str) -> frozenset[str]:
    words = (word.lower() for word in _NAME_WORD.findall(keypoint_name))
    return frozenset(_SHORT_SIDES.get(word, word) for word in words)


def torso_keypoint_indices(topology: Topology) -> tuple[int, int, int, int]:
    """Indices of the left shoulder, right shoulder, left hip and right hip of ``topology``.

    Found by name: a keypoint is e.g. the left shoulder when the words of its name are exactly
    ``{left, shoulder}`` in any order and case, with ``l``/``r`` read as left/right and words split
    at separators and camelCase boundaries (``LEFT_SHOULDER``, ``left_shoulder``, ``l_shoulder``,
    ``leftShoulder``, ``shoulder_left``). Works for BlazePose-33, COCO-17, MPII-16 and LSP-14.

    Raises:
      ValueError: a part is missing (e.g. PUSHUP_7 has no hips) or named by several keypoints.
    """
    words_of = [_name_words(name) for name in topology.keypoint_names]
    indices = []
    for part in _TORSO_PARTS:
        matches = [i for i, words in enumerate(words_of) if words == frozenset(part)]
        if len(matches) != 1:
            problem = "has no keypoint" if not matches else "has several keypoints"
            raise ValueError(
                f"topology {topology.name!r} {problem} named like {'_'.join(part)!r}; a torso "
                "size needs exactly one left/right shoulder and hip"
            )
        indices.append(matches[0])
    left_shoulder, right_shoulder, left_hip, right_hip = indices
    return left_shoulder, right_shoulder, left_hip, right_hip


def _labelled_mean(
    points: np.ndarray, mask: np.ndarray, indices: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[N, 2]`` of the labelled points among ``indices`` and their count ``[N]``."""
    chosen_mask = mask[:, indices]
    chosen = np.where(chosen_mask[..., None], points[:, indices], 0.0)
    count = chosen_mask.sum(axis=1)
    return chosen.sum(axis=1) / np.maximum(count, 1)[:, None], count


def torso_size(keypoints: npt.ArrayLike, labelled: npt.ArrayLike, topology: Topology) -> np.ndarray:
    """Torso size of each example: the normaliser of BlazePose's PCK@0.2.

    The BlazePose paper counts a keypoint as correct when its 2D error is below 20% of the
    person's torso size, without defining the size further. We define it, from the ground truth,
    as the distance between

    * the mean of the *labelled* shoulders (left, right), and
    * the mean of the *labelled* hips (left, right).

    With all four labelled this is the distance between the shoulder midpoint and the hip
    midpoint (torso height). When one side is unlabelled it becomes that other side's
    shoulder-to-hip length (which is close to the torso height in side views); with only a
    shoulder of one side and a hip of the other it is the torso diagonal (e.g. left shoulder to
    right hip); with both shoulders and one hip it runs from the shoulder midpoint to that hip.
    It is NaN when no shoulder or no hip is labelled, so that the example is excluded (and
    counted) by :func:`pck`. A zero size is returned as 0 and also excluded there.

    Args:
      keypoints: ``[N, K, D >= 2]`` ground-truth keypoints of ``topology`` (x, y first).
      labelled: ``[N, K]`` bool, True where the ground truth has the keypoint.
      topology: must name the shoulders and hips, see :func:`torso_keypoint_indices`.

    Returns:
      ``[N]`` float64 torso sizes in the unit of ``keypoints``, NaN where impossible.

    Raises:
      ValueError: shapes do not match ``topology``, or it lacks shoulders or hips.
    """
    points = _points(keypoints, "keypoints")
    if points.shape[1] != topology.num_keypoints:
        raise ValueError(
            f"keypoints have {points.shape[1]} keypoints, topology {topology.name!r} has "
            f"{topology.num_keypoints}"
        )
    mask = _mask(labelled, points.shape[:2])
    left_shoulder, right_shoulder, left_hip, right_hip = torso_keypoint_indices(topology)
    shoulder_centre, shoulder_count = _labelled_mean(points, mask, [left_shoulder, right_shoulder])
    hip_centre, hip_count = _labelled_mean(points, mask, [left_hip, right_hip])
    sizes = np.linalg.norm(shoulder_centre - hip_centre, axis=-1)
    return np.where((shoulder_count > 0) & (hip_count > 0), sizes, np.nan)


def mpii_head_size(head_boxes: npt.ArrayLike) -> np.ndarray:
    """MPII's PCKh normaliser: 0.6 times the diagonal of the annotated head rectangle.

    This is the head size of MPII Human Pose's official evaluation (``SC_BIAS = 0.6`` times the
    Euclidean norm of the rectangle's corner-to-corner vector).

    Args:
      head_boxes: ``[N, 4]`` head rectangles as two opposite corners ``(x1, y1, x2, y2)``.

    Returns:
      ``[N]`` float64 head sizes, in the unit of ``head_boxes``.
    """
    boxes = np.asarray(head_boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"head_boxes must have shape [N, 4] (x1, y1, x2, y2), got {boxes.shape}")
    return MPII_HEAD_SIZE_FACTOR * np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


# ---------------------------------------------------------------------------------------------
# Metrics of one batch
# ---------------------------------------------------------------------------------------------


def pck(
    pred_keypoints: npt.ArrayLike,
    gt_keypoints: npt.ArrayLike,
    labelled: npt.ArrayLike,
    normalisers: npt.ArrayLike,
    threshold: float = 0.2,
) -> PckResult:
    """Percentage of correct keypoints: error ``<= threshold * normaliser`` of the example.

    Only labelled keypoints of examples with a valid normaliser (finite and ``> 0``) are counted;
    the overall value is over all counted (example, keypoint) pairs, not a mean of per-keypoint
    values. BlazePose's PCK@0.2 uses ``normalisers = torso_size(gt_keypoints, ...)``.

    Args:
      pred_keypoints: ``[N, K, D >= 2]`` predicted keypoints.
      gt_keypoints: ``[N, K, D >= 2]`` ground-truth keypoints.
      labelled: ``[N, K]`` bool, True where the ground truth has the keypoint.
      normalisers: ``[N]`` per-example length scale, NaN (or ``<= 0``) to exclude the example.
      threshold: fraction of the normaliser, > 0.

    Returns:
      A :class:`PckResult`: ``per_keypoint [K]`` (NaN where nothing was counted), ``overall``,
      and the counts.
    """
    threshold = _check_threshold(threshold, "threshold")
    pred, gt, mask = _prediction_and_truth(pred_keypoints, gt_keypoints, labelled)
    scale = _per_example(normalisers, gt.shape[0], "normalisers")
    with np.errstate(invalid="ignore"):
        valid_example = np.isfinite(scale) & (scale > 0)
    counted = mask & valid_example[:, None]
    errors = _errors(pred, gt, counted)
    allowed = threshold * np.where(valid_example, scale, 0.0)
    with np.errstate(invalid="ignore"):
        correct = counted & (errors <= allowed[:, None])
    return PckResult(
        num_correct_per_keypoint=correct.sum(axis=0, dtype=np.int64),
        num_counted_per_keypoint=counted.sum(axis=0, dtype=np.int64),
        threshold=threshold,
        num_examples_without_normaliser=int((~valid_example).sum()),
    )


def pckh(
    pred_keypoints: npt.ArrayLike,
    gt_keypoints: npt.ArrayLike,
    labelled: npt.ArrayLike,
    head_sizes: npt.ArrayLike,
    threshold: float = 0.5,
) -> PckResult:
    """PCKh: :func:`pck` normalised by head size; PCKh@0.5 is MPII's standard metric.

    ``head_sizes [N]`` are per-example head sizes, for MPII :func:`mpii_head_size` of the
    annotated head rectangle (0.6 times its diagonal). MPII's published mean usually leaves out
    pelvis and thorax; ``overall`` here counts every labelled keypoint, so select keypoints before
    calling to reproduce that.
    """
    return pck(pred_keypoints, gt_keypoints, labelled, head_sizes, threshold)


def mean_pixel_error(
    pred_keypoints: npt.ArrayLike, gt_keypoints: npt.ArrayLike, labelled: npt.ArrayLike
) -> KeypointMeanError:
    """Mean Euclidean distance between predicted and labelled ground-truth keypoints.

    Args:
      pred_keypoints: ``[N, K, D >= 2]`` predicted keypoints.
      gt_keypoints: ``[N, K, D >= 2]`` ground-truth keypoints.
      labelled: ``[N, K]`` bool; only these pairs are averaged.

    Returns:
      A :class:`KeypointMeanError` (per keypoint ``[K]``, NaN where never labelled; overall).
    """
    pred, gt, mask = _prediction_and_truth(pred_keypoints, gt_keypoints, labelled)
    return KeypointMeanError(
        error_sum_per_keypoint=_errors(pred, gt, mask).sum(axis=0),
        num_counted_per_keypoint=mask.sum(axis=0, dtype=np.int64),
    )


def visibility_accuracy(
    pred_visibility: npt.ArrayLike,
    gt_visibility: npt.ArrayLike,
    labelled: npt.ArrayLike,
    threshold: float = DEFAULT_VISIBILITY_THRESHOLD,
) -> KeypointAccuracy:
    """Accuracy of the visible / not-visible decision on labelled keypoints.

    A keypoint is predicted visible when its predicted probability is ``>= threshold``, and is
    visible in the ground truth when ``gt_visibility >= 0.5``. Labelled keypoints that are not
    visible (occluded) count: that is what the classifier is for; unlabelled ones never do.

    Args:
      pred_visibility: ``[N, K]`` predicted probabilities in [0, 1] (not logits).
      gt_visibility: ``[N, K]`` ground-truth visibility in [0, 1]: bool, 0/1 or soft labels.
        COCO's flags (0, 1, 2) are *not* accepted; pass ``v == 2``.
      labelled: ``[N, K]`` bool, True where the ground truth has the keypoint.
      threshold: decision threshold on the predicted probability.

    Raises:
      ValueError: shapes differ, or a labelled entry lies outside [0, 1] (or is NaN).
    """
    predicted = np.asarray(pred_visibility, dtype=np.float64)
    truth = np.asarray(gt_visibility, dtype=np.float64)
    if predicted.ndim != 2 or truth.shape != predicted.shape:
        raise ValueError(
            f"pred_visibility and gt_visibility must both be [N, K], got {predicted.shape} and "
            f"{truth.shape}"
        )
    mask = _mask(labelled, predicted.shape)
    for values, what in ((predicted, "pred_visibility"), (truth, "gt_visibility")):
        labelled_values = values[mask]
        if not ((labelled_values >= 0) & (labelled_values <= 1)).all():
            raise ValueError(f"{what} of labelled keypoints must lie in [0, 1]")
    with np.errstate(invalid="ignore"):
        correct = mask & ((predicted >= threshold) == (truth >= 0.5))
    return KeypointAccuracy(
        num_correct_per_keypoint=correct.sum(axis=0, dtype=np.int64),
        num_counted_per_keypoint=mask.sum(axis=0, dtype=np.int64),
    )


# ---------------------------------------------------------------------------------------------
# Streaming evaluator
# ---------------------------------------------------------------------------------------------


def _json_number(value: float | int) -> float | int | None:
    """NaN and infinities become None (JSON null); other numbers pass unchanged."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _AccuracyTotals:
    """Running per-keypoint correct / counted counts (and excluded examples) over batches."""

    def __init__(self, num_keypoints: int) -> None:
        self.correct = np.zeros(num_keypoints, dtype=np.int64)
        self.counted = np.zeros(num_keypoints, dtype=np.int64)
        self.examples_without_normaliser = 0

    def add(self, batch: KeypointAccuracy) -> None:
        self.correct += batch.num_correct_per_keypoint
        self.counted += batch.num_counted_per_keypoint
        if isinstance(batch, PckResult):
            self.examples_without_normaliser += batch.num_examples_without_normaliser

    def accuracy(self) -> KeypointAccuracy:
        return KeypointAccuracy(self.correct.copy(), self.counted.copy())


class PoseEvaluator:
    """Accumulates keypoint metrics over batches of examples of one topology.

    Typical use::

        evaluator = PoseEvaluator(COCO_17)
        for batch in data:
            evaluator.update(pred, gt, labelled, pred_visibility=p, gt_visibility=v)
        print(evaluator.table())
        metrics = evaluator.result()

    Metrics (all over labelled keypoints only, see the module docstring):

    * ``pck@T`` (T = ``pck_threshold``): PCK normalised by :func:`torso_size` of the ground truth.
      Topologies without shoulders and hips have no torso size: the value is NaN and every
      example is reported in ``pck_num_examples_without_torso``.
    * ``pckh@T`` (T = ``pckh_threshold``): PCKh with the caller's ``head_sizes``.
    * ``mean_pixel_error``: mean Euclidean error.
    * ``visibility_accuracy``: see :func:`visibility_accuracy`.

    Optional inputs (``head_sizes``; ``pred_visibility`` with ``gt_visibility``) must be given in
    every update or in none, so that a metric never silently covers only part of the data; pass
    NaN head sizes to exclude single examples. Results of updates in several parts equal those of
    one update with everything (up to float rounding of the error sums).
    """

    def __init__(
        self,
        topology: Topology,
        pck_threshold: float = 0.2,
        pckh_threshold: float = 0.5,
        visibility_threshold: float = DEFAULT_VISIBILITY_THRESHOLD,
    ) -> None:
        self.topology = topology
        self.pck_threshold = _check_threshold(pck_threshold, "pck_threshold")
        self.pckh_threshold = _check_threshold(pckh_threshold, "pckh_threshold")
        self.visibility_threshold = float(visibility_threshold)
        try:
            torso_keypoint_indices(topology)
            self.has_torso = True
        except ValueError:
            self.has_torso = False
        self.reset()

    @property
    def pck_key(self) -> str:
        """Result key of the torso PCK, e.g. ``"pck@0.2"``."""
        return f"pck@{self.pck_threshold:g}"

    @property
    def pckh_key(self) -> str:
        """Result key of the PCKh, e.g. ``"pckh@0.5"``."""
        return f"pckh@{self.pckh_threshold:g}"

    def reset(self) -> None:
        """Forgets every update (e.g. at the start of a validation epoch)."""
        num_keypoints = self.topology.num_keypoints
        self._num_examples = 0
        self._pck = _AccuracyTotals(num_keypoints)
        self._pckh = _AccuracyTotals(num_keypoints)
        self._visibility = _AccuracyTotals(num_keypoints)
        self._error_sum = np.zeros(num_keypoints, dtype=np.float64)
        self._labelled = np.zeros(num_keypoints, dtype=np.int64)
        self._with_head_sizes: bool | None = None
        self._with_visibility: bool | None = None

    @staticmethod
    def _same_as_before(previous: bool | None, now: bool, what: str) -> bool:
        if previous is not None and previous != now:
            raise ValueError(
                f"{what} must be given in every update or in none (earlier updates "
                f"{'had' if previous else 'did not have'} them)"
            )
        return now

    def update(
        self,
        pred_keypoints: npt.ArrayLike,
        gt_keypoints: npt.ArrayLike,
        labelled: npt.ArrayLike,
        pred_visibility: npt.ArrayLike | None = None,
        gt_visibility: npt.ArrayLike | None = None,
        head_sizes: npt.ArrayLike | None = None,
    ) -> None:
        """Adds a batch of N examples.

        Args:
          pred_keypoints: ``[N, K, D >= 2]`` predictions in the evaluator's topology.
          gt_keypoints: ``[N, K, D >= 2]`` ground truth.
          labelled: ``[N, K]`` bool, True where the ground truth has the keypoint.
          pred_visibility: ``[N, K]`` predicted visibility probabilities, or None.
          gt_visibility: ``[N, K]`` ground-truth visibility in [0, 1], or None; given together
            with ``pred_visibility``.
          head_sizes: ``[N]`` PCKh normalisers (e.g. :func:`mpii_head_size`), or None.

        Raises:
          ValueError: wrong shapes, K differing from the topology's, only one of the visibility
            arrays, or optional inputs given in some updates but not others. A failed update
            changes nothing.
        """
        pred, gt, mask = _prediction_and_truth(pred_keypoints, gt_keypoints, labelled)
        if gt.shape[1] != self.topology.num_keypoints:
            raise ValueError(
                f"got {gt.shape[1]} keypoints, topology {self.topology.name!r} has "
                f"{self.topology.num_keypoints}"
            )
        if (pred_visibility is None) != (gt_visibility is None):
            raise ValueError("pred_visibility and gt_visibility must be given together")
        with_visibility = self._same_as_before(
            self._with_visibility, pred_visibility is not None, "visibility"
        )
        with_head_sizes = self._same_as_before(
            self._with_head_sizes, head_sizes is not None, "head_sizes"
        )

        # Compute everything before changing any state, so that a bad input changes nothing.
        num_examples = gt.shape[0]
        if self.has_torso:
            torso = torso_size(gt, mask, self.topology)
        else:
            torso = np.full(num_examples, np.nan)
        torso_pck = pck(pred, gt, mask, torso, self.pck_threshold)
        head_pck = (
            None if head_sizes is None else pckh(pred, gt, mask, head_sizes, self.pckh_threshold)
        )
        visibility = None
        if pred_visibility is not None:
            visibility = visibility_accuracy(
                pred_visibility, gt_visibility, mask, self.visibility_threshold
            )
        errors = mean_pixel_error(pred, gt, mask)

        self._with_visibility = with_visibility
        self._with_head_sizes = with_head_sizes
        self._num_examples += num_examples
        self._pck.add(torso_pck)
        if head_pck is not None:
            self._pckh.add(head_pck)
        if visibility is not None:
            self._visibility.add(visibility)
        self._error_sum += errors.error_sum_per_keypoint
        self._labelled += errors.num_counted_per_keypoint

    def result(self) -> dict[str, Any]:
        """The metrics so far, as plain Python numbers (NaN where nothing was counted).

        Keys:
          ``num_examples``, ``num_labelled_keypoints``;
          ``pck@T``, ``pck_num_counted_keypoints``, ``pck_num_examples_without_torso``;
          ``pckh@T``, ``pckh_num_counted_keypoints``, ``pckh_num_examples_without_head_size``
          (only when head sizes were given);
          ``mean_pixel_error``;
          ``visibility_accuracy``, ``visibility_num_counted_keypoints`` (only when visibility
          was given);
          ``per_keypoint``: keypoint name -> ``{"num_labelled", "pck@T", ["pckh@T"],
          "mean_pixel_error", ["visibility_accuracy"]}``.
        """
        torso = self._pck.accuracy()
        errors = KeypointMeanError(self._error_sum.copy(), self._labelled.copy())
        summary: dict[str, Any] = {
            "num_examples": self._num_examples,
            "num_labelled_keypoints": errors.num_counted,
            self.pck_key: torso.overall,
            "pck_num_counted_keypoints": torso.num_counted,
            "pck_num_examples_without_torso": self._pck.examples_without_normaliser,
        }
        columns: dict[str, np.ndarray] = {
            "num_labelled": errors.num_counted_per_keypoint,
            self.pck_key: torso.per_keypoint,
        }
        if self._with_head_sizes:
            head = self._pckh.accuracy()
            summary[self.pckh_key] = head.overall
            summary["pckh_num_counted_keypoints"] = head.num_counted
            summary["pckh_num_examples_without_head_size"] = self._pckh.examples_without_normaliser
            columns[self.pckh_key] = head.per_keypoint
        summary["mean_pixel_error"] = errors.overall
        columns["mean_pixel_error"] = errors.per_keypoint
        if self._with_visibility:
            visibility = self._visibility.accuracy()
            summary["visibility_accuracy"] = visibility.overall
            summary["visibility_num_counted_keypoints"] = visibility.num_counted
            columns["visibility_accuracy"] = visibility.per_keypoint
        summary["per_keypoint"] = {
            name: {column: values[i].item() for column, values in columns.items()}
            for i, name in enumerate(self.topology.keypoint_names)
        }
        return summary

    def table(self) -> str:
        """A per-keypoint text table (fractions as percentages, "-" where nothing counted)."""
        summary = self.result()
        headers = ["keypoint", "labelled", f"PCK@{self.pck_threshold:g}"]
        keys = [self.pck_key]
        if self._with_head_sizes:
            headers.append(f"PCKh@{self.pckh_threshold:g}")
            keys.append(self.pckh_key)
        headers.append("error")
        keys.append("mean_pixel_error")
        if self._with_visibility:
            headers.append("visibility")
            keys.append("visibility_accuracy")

        def cell(key: str, value: float) -> str:
            if not math.isfinite(value):
                return "-"
            return f"{value:.2f}" if key == "mean_pixel_error" else f"{100 * value:.1f}%"

        rows = [
            [name, str(values["num_labelled"])] + [cell(key, values[key]) for key in keys]
            for name, values in summary["per_keypoint"].items()
        ]
        rows.append(
            ["all", str(summary["num_labelled_keypoints"])]
            + [cell(key, summary[key]) for key in keys]
        )
        name_width = max(len(row[0]) for row in rows + [headers])
        value_widths = [
            max(len(row[column]) for row in rows + [headers]) for column in range(1, len(headers))
        ]

        def line(row: list[str]) -> str:
            cells = [row[0].ljust(name_width)]
            cells += [text.rjust(width) for text, width in zip(row[1:], value_widths)]
            return "  ".join(cells)

        rule = "-" * len(line(headers))
        notes = [
            f"{summary['num_examples']} examples of {self.topology.name}; "
            f"{summary['pck_num_examples_without_torso']} without a torso size (not in "
            f"{self.pck_key})"
        ]
        if self._with_head_sizes:
            notes.append(
                f"{summary['pckh_num_examples_without_head_size']} examples without a head size "
                f"(not in {self.pckh_key})"
            )
        return "\n".join([line(headers), rule, *map(line, rows[:-1]), rule, line(rows[-1]), *notes])

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`result` as JSON, with the topology name and thresholds; NaN becomes null."""
        summary = self.result()
        document = {
            "topology": self.topology.name,
            "pck_threshold": self.pck_threshold,
            "pckh_threshold": self.pckh_threshold,
            "visibility_threshold": self.visibility_threshold,
            **{key: _json_number(value) for key, value in summary.items() if key != "per_keypoint"},
            "per_keypoint": {
                name: {key: _json_number(value) for key, value in values.items()}
                for name, values in summary["per_keypoint"].items()
            },
        }
        return json.dumps(document, indent=indent, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# COCO object keypoint similarity (OKS) AP
# ---------------------------------------------------------------------------------------------

COCO_OKS_STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "AP_medium",
    "AP_large",
    "AR",
    "AR50",
    "AR75",
    "AR_medium",
    "AR_large",
)
"""Keys of :func:`coco_oks_ap`'s result, in the order of ``COCOeval.stats`` for keypoints."""


@dataclass(frozen=True, eq=False)
class CocoKeypointGroundTruth:
    """Annotated people for :func:`coco_oks_ap`; M people over any number of images.

    Attributes:
      image_ids: ``[M]`` int, the image of each person.
      keypoints: ``[M, K, D >= 2]`` keypoints (x, y first) in COCO's order (K = 17 with COCO's
        sigmas).
      labelled: ``[M, K]`` bool; written as COCO flag ``v = 2`` (True) or ``v = 0`` with x = y = 0
        (False). OKS only looks at ``v > 0``, so occluded-but-labelled points need no own flag.
      areas: ``[M]`` person areas in pixels² (COCO: segmentation area), or None to use the boxes'
        areas. OKS scales errors by the area, so box areas (larger than segment areas) make the
        score more lenient than official COCO numbers; pass COCO's areas to reproduce those.
      boxes: ``[M, 4]`` person boxes ``(x, y, width, height)``, or None for the tight box of the
        labelled keypoints.
      crowd: ``[M]`` bool COCO ``iscrowd`` flags (crowd regions are ignored), or None for none.
    """

    image_ids: npt.ArrayLike
    keypoints: npt.ArrayLike
    labelled: npt.ArrayLike
    areas: npt.ArrayLike | None = None
    boxes: npt.ArrayLike | None = None
    crowd: npt.ArrayLike | None = None


@dataclass(frozen=True, eq=False)
class CocoKeypointPredictions:
    """Detected people for :func:`coco_oks_ap`: P detections over any number of images.

    Attributes:
      image_ids: ``[P]`` int, the image of each detection.
      keypoints: ``[P, K, D >= 2]`` predicted keypoints (x, y first), all K of them.
      scores: ``[P]`` detection confidences; they rank detections for AP.
    """

    image_ids: npt.ArrayLike
    keypoints: npt.ArrayLike
    scores: npt.ArrayLike


def _tight_boxes(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[M, 4]`` (x, y, w, h) boxes around the points where ``mask``; zeros where none."""
    low = np.where(mask[..., None], points, np.inf).min(axis=1)
    high = np.where(mask[..., None], points, -np.inf).max(axis=1)
    boxes = np.concatenate([low, high - low], axis=1)
    return np.where(mask.any(axis=1)[:, None], boxes, 0.0)


def _coco_keypoint_list(points: np.ndarray, flags: np.ndarray) -> list[float]:
    """COCO's flat ``[x1, y1, v1, x2, y2, v2, ...]`` list for one person."""
    return np.concatenate([points, flags[:, None]], axis=1).ravel().tolist()


def coco_oks_ap(
    predictions: CocoKeypointPredictions,
    ground_truth: CocoKeypointGroundTruth,
    sigmas: npt.ArrayLike | None = None,
) -> dict[str, float]:
    """COCO keypoint AP / AR by object keypoint similarity, computed by pycocotools' COCOeval.

    Builds in-memory COCO objects (one ``person`` category; images are the union of the image ids
    of both arguments, so detections on images without people count as false positives) and runs
    ``COCOeval(..., "keypoints")`` with its default parameters: OKS thresholds 0.50:0.05:0.95, at
    most 20 detections per image, areas all / medium (32²-96²) / large (> 96²). Annotation ids
    start at 1 (COCOeval treats id 0 as "unmatched"). pycocotools' progress output is silenced.

    Args:
      predictions: detected people with scores.
      ground_truth: annotated people.
      sigmas: ``[K]`` per-keypoint OKS constants, or None for COCO's 17 (then K must be 17).

    Returns:
      ``{name: value}`` for :data:`COCO_OKS_STAT_NAMES` (AP averaged over thresholds, AP at OKS
      0.5 and 0.75, AP for medium and large people, and the same for AR), as floats in [0, 1];
      NaN where COCOeval reports -1 (no ground truth in that area range).

    Raises:
      ImportError: pycocotools is not installed (``pip install pycocotools``).
      ValueError: inconsistent shapes, or K does not match the sigmas.
    """
    from pycocotools.coco import COCO  # imported here: an optional dependency
    from pycocotools.cocoeval import COCOeval

    gt_points = _points(ground_truth.keypoints, "ground_truth.keypoints")
    num_people, num_keypoints = gt_points.shape[:2]
    gt_mask = _mask(ground_truth.labelled, (num_people, num_keypoints), "ground_truth.labelled")
    gt_images = np.asarray(ground_truth.image_ids, dtype=np.int64).reshape(-1)
    if gt_images.shape != (num_people,):
        raise ValueError(f"ground_truth.image_ids must have shape ({num_people},)")
    if not np.isfinite(gt_points[gt_mask]).all():
        raise ValueError("labelled ground-truth keypoints must have finite coordinates")
    gt_points = np.where(gt_mask[..., None], gt_points, 0.0)
    if ground_truth.boxes is None:
        boxes = _tight_boxes(gt_points, gt_mask)
    else:
        boxes = np.asarray(ground_truth.boxes, dtype=np.float64)
        if boxes.shape != (num_people, 4):
            raise ValueError(f"ground_truth.boxes must have shape ({num_people}, 4)")
    if ground_truth.areas is None:
        areas = boxes[:, 2] * boxes[:, 3]
    else:
        areas = _per_example(ground_truth.areas, num_people, "ground_truth.areas")
    if ground_truth.crowd is None:
        crowd = np.zeros(num_people, dtype=bool)
    else:
        crowd = _mask(ground_truth.crowd, (num_people,), "ground_truth.crowd")

    pred_points = _points(predictions.keypoints, "predictions.keypoints")
    num_detections = pred_points.shape[0]
    if num_detections and pred_points.shape[1] != num_keypoints:
        raise ValueError(
            f"predictions have {pred_points.shape[1]} keypoints, ground truth {num_keypoints}"
        )
    pred_images = np.asarray(predictions.image_ids, dtype=np.int64).reshape(-1)
    scores = _per_example(predictions.scores, num_detections, "predictions.scores")
    if pred_images.shape != (num_detections,):
        raise ValueError(f"predictions.image_ids must have shape ({num_detections},)")

    if sigmas is not None:
        sigmas = np.asarray(sigmas, dtype=np.float64)
        if sigmas.shape != (num_keypoints,):
            raise ValueError(f"sigmas must have shape ({num_keypoints},), got {sigmas.shape}")

    category = {"id": 1, "name": "person", "supercategory": "person"}
    images = [{"id": int(i)} for i in np.union1d(gt_images, pred_images)]
    annotations = [
        {
            "id": person + 1,
            "image_id": int(gt_images[person]),
            "category_id": 1,
            "keypoints": _coco_keypoint_list(gt_points[person], 2.0 * gt_mask[person]),
            "num_keypoints": int(gt_mask[person].sum()),
            "area": float(areas[person]),
            "bbox": boxes[person].tolist(),
            "iscrowd": int(crowd[person]),
        }
        for person in range(num_people)
    ]
    # What COCO.loadRes would add to keypoint results: a tight box of all predicted keypoints
    # and its area (used only to ignore unmatched detections outside an area range).
    detection_boxes = _tight_boxes(pred_points, np.ones(pred_points.shape[:2], dtype=bool))
    detections = [
        {
            "id": detection + 1,
            "image_id": int(pred_images[detection]),
            "category_id": 1,
            "keypoints": _coco_keypoint_list(pred_points[detection], np.ones(pred_points.shape[1])),
            "score": float(scores[detection]),
            "bbox": detection_boxes[detection].tolist(),
            "area": float(detection_boxes[detection, 2] * detection_boxes[detection, 3]),
            "iscrowd": 0,
        }
        for detection in range(num_detections)
    ]

    with contextlib.redirect_stdout(io.StringIO()):
        coco_truth, coco_detections = COCO(), COCO()
        for coco, people in ((coco_truth, annotations), (coco_detections, detections)):
            coco.dataset = {"images": images, "categories": [category], "annotations": people}
            coco.createIndex()
        evaluation = COCOeval(coco_truth, coco_detections, "keypoints")
        if sigmas is not None:
            evaluation.params.kpt_oks_sigmas = sigmas
        elif num_keypoints != len(evaluation.params.kpt_oks_sigmas):
            raise ValueError(
                f"COCO's OKS sigmas are for {len(evaluation.params.kpt_oks_sigmas)} keypoints, "
                f"got {num_keypoints}; pass sigmas"
            )
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {
        name: float("nan") if value == -1 else float(value)
        for name, value in zip(COCO_OKS_STAT_NAMES, evaluation.stats)
    }


# ---------------------------------------------------------------------------------------------
# Several people: OKS of one person, identities over a video
# ---------------------------------------------------------------------------------------------

COCO_OKS_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
                            1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0
"""COCO's per-keypoint OKS constants of its 17 keypoints (``COCOeval``'s ``kpt_oks_sigmas``)."""


def object_keypoint_similarity(predicted: npt.ArrayLike, truth: npt.ArrayLike,
                               labelled: npt.ArrayLike, area: float,
                               sigmas: npt.ArrayLike = COCO_OKS_SIGMAS) -> float:
    """COCO's OKS of one predicted person against one annotated person.

    ``mean over labelled k of exp(-d_k^2 / (2 area (2 sigma_k)^2))`` with ``d_k`` the pixel
    distance (as ``COCOeval.computeOks``); NaN when nothing is labelled.

    Args:
      predicted, truth: ``[K, >=2]`` x, y pixels; labelled: bool ``[K]``; area: the person's
        area in square pixels (COCO: the segment area).
    """
    predicted = np.asarray(predicted, np.float64)[:, :2]
    truth = np.asarray(truth, np.float64)[:, :2]
    labelled = np.asarray(labelled, bool)
    variances = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    if not labelled.any():
        return float("nan")
    squared = np.sum((predicted - truth) ** 2, axis=-1)
    similarity = np.exp(-squared / variances / (area + np.spacing(1)) / 2.0)
    return float(similarity[labelled].mean())


def _normalised_distances(truth: np.ndarray, visible: np.ndarray, height: np.ndarray,
                          predicted: np.ndarray) -> np.ndarray:
    """``[P, N]`` median landmark distance / person height over the truth's visible landmarks
    (all landmarks for a person with none visible)."""
    distance = np.linalg.norm(truth[:, None, :, :2] - predicted[None, :, :, :2], axis=-1)
    mask = np.where(visible.any(axis=-1, keepdims=True), visible, True)[:, None, :]
    masked = np.where(mask, distance, np.nan)
    return np.nanmedian(masked, axis=-1) / height[:, None]


def match_people(truth: npt.ArrayLike, visible: npt.ArrayLike, height: npt.ArrayLike,
                 predicted: npt.ArrayLike, max_distance: float = 0.2
                 ) -> list[tuple[int, int, float]]:
    """Pairs true and predicted people of one frame (Hungarian, least total distance).

    Args:
      truth: ``[P, K, >=2]`` x, y pixels; visible: bool ``[P, K]``; height: ``[P]`` pixels.
      predicted: ``[N, K, >=2]``.
      max_distance: pairs farther apart (median distance over the visible landmarks divided by
        the true person's height) are not a match.
    Returns:
      ``(truth index, prediction index, distance)`` triples.
    """
    truth = np.asarray(truth, np.float64)
    predicted = np.asarray(predicted, np.float64)
    if len(truth) == 0 or len(predicted) == 0:
        return []
    distances = _normalised_distances(truth, np.asarray(visible, bool),
                                      np.asarray(height, np.float64), predicted)
    rows, columns = linear_sum_assignment(np.minimum(distances, 1e6))
    return [(int(r), int(c), float(distances[r, c])) for r, c in zip(rows, columns)
            if distances[r, c] <= max_distance]


@dataclass
class TrackingResult:
    """CLEAR-MOT style figures of a multi-person run against the truth.

    Attributes:
      frames: frames evaluated; present: (frame, person) pairs where the person is present.
      misses: present people not matched; false_positives: predictions matching nobody.
      id_switches: times a true person's matched track id changed from the previous match.
      errors: float64 ``[T, P]`` per frame and person, the median distance of the visible
        landmarks divided by the person's height (NaN when unmatched).
    """

    frames: int
    present: int
    misses: int
    false_positives: int
    id_switches: int
    errors: np.ndarray

    @property
    def mota(self) -> float:
        """``1 - (misses + false positives + switches) / present``."""
        return 1.0 - (self.misses + self.false_positives + self.id_switches) / max(self.present, 1)

    def person_errors(self) -> np.ndarray:
        """float64 ``[P]`` median over the frames of each person's error (NaN: never found)."""
        with np.errstate(all="ignore"):
            return np.array([np.nanmedian(c) if np.isfinite(c).any() else np.nan
                             for c in self.errors.T])


def tracking_metrics(truth: npt.ArrayLike, visible: npt.ArrayLike, present: npt.ArrayLike,
                     height: npt.ArrayLike, predictions: list[list[tuple[int, np.ndarray]]],
                     max_distance: float = 0.2) -> TrackingResult:
    """Identity switches, misses, false positives and landmark errors of a tracked video.

    Args:
      truth: ``[T, P, K, >=2]`` true landmarks (pixels); visible: bool ``[T, P, K]``;
        present: bool ``[T, P]`` people that should be found; height: ``[P]`` pixels.
      predictions: per frame, ``(track_id, landmarks [K, >=2])`` of every person reported.
      max_distance: see :func:`match_people`.
    """
    truth = np.asarray(truth, np.float64)
    visible = np.asarray(visible, bool)
    present = np.asarray(present, bool)
    height = np.asarray(height, np.float64)
    if len(predictions) != len(truth):
        raise ValueError(f"{len(predictions)} frames of predictions for {len(truth)} of truth")
    frames, people = truth.shape[:2]
    errors = np.full((frames, people), np.nan)
    last_id: list[int | None] = [None] * people
    misses = false_positives = switches = 0
    for frame, reported in enumerate(predictions):
        points = (np.stack([np.asarray(p, np.float64) for _, p in reported]) if reported
                  else np.zeros((0,) + truth.shape[2:]))
        pairs = match_people(truth[frame], visible[frame], height, points, max_distance)
        matched_truth = {r for r, _, _ in pairs}
        misses += int(sum(present[frame, p] and p not in matched_truth for p in range(people)))
        false_positives += len(reported) - len(pairs)
        for person, index, distance in pairs:
            track_id = reported[index][0]
            if last_id[person] is not None and track_id != last_id[person]:
                switches += 1
            last_id[person] = track_id
            errors[frame, person] = distance
    return TrackingResult(frames, int(present.sum()), misses, false_positives, switches, errors)
