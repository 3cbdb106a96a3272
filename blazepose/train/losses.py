"""Training losses of the landmark network, per example, for every head.

Every function returns a float32 ``[B]`` tensor: one loss per example, *not* a batch mean. The
trainer averages with ``tf.nn.compute_average_loss(per_example, global_batch_size=...)``, which is
what makes the loss correct under ``tf.distribute`` (each replica divides by the global batch).

Conventions shared by all heads (K target keypoints, L >= K model landmarks):

* Model outputs carry L = K + extra landmarks; the losses read the first K themselves (heatmap
  channels ``[:K]``, offset channels ``[:2K]``, landmark rows ``[:K]``). The extra landmarks are
  not supervised and receive no gradient.
* Model outputs may be float16 (mixed precision); they are cast to float32 before any arithmetic.
  Targets are float32 (``labelled`` is bool).
* Masking: an unlabelled keypoint contributes nothing, whatever the prediction, and does not count
  in the normalisation. Each example's loss is the mean over its labelled keypoints (of the
  per-keypoint loss described per head); an example without labelled keypoints has loss 0 and
  zero gradient.
* TF ops only, no Python control flow on tensor values: the functions trace inside a
  ``tf.function`` train step and run per replica under ``tf.distribute``.

Target layout (from :func:`blazepose.data.ops.make_targets`, batched): ``heatmap`` ``[B, H, W,
K]`` Gaussian in [0, 1]; ``heatmap_weight`` ``[B, K]``; ``landmarks`` ``[B, K, 2]`` crop pixels;
``visibility`` ``[B, K]`` 0/1; ``labelled`` bool ``[B, K]``; optionally ``offsets`` ``[B, H, W,
2K]`` (x, y per keypoint, interleaved, in heatmap cells) and ``offset_mask`` ``[B, H, W, K]``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Literal

import tensorflow as tf

HeatmapLossKind = Literal["bce", "focal", "mse"]
RegressionLossKind = Literal["huber", "wing", "l1"]
Phase = Literal["heatmap", "regression", "joint"]

HEATMAP_LOSS_KINDS: tuple[str, ...] = ("bce", "focal", "mse")
REGRESSION_LOSS_KINDS: tuple[str, ...] = ("huber", "wing", "l1")

# Names of the per-head losses in :func:`compute_losses`'s result, and which phase trains which.
HEADS: tuple[str, ...] = ("heatmap", "offsets", "regression", "visibility")
PHASE_HEADS: dict[str, tuple[str, ...]] = {
    "heatmap": ("heatmap", "offsets"),
    "regression": ("regression", "visibility"),
    "joint": HEADS,
}
TOTAL = "total"
PRESERVE = "preserve"
DISTILL = "distill"
# The outputs preserve_loss keeps at the starting network's values.
PRESERVED_OUTPUTS = ("pose_flag",)
# The outputs distill_loss matches to the reference network's.
DISTILLED_OUTPUTS = ("landmarks", "world_landmarks", "pose_flag", "heatmap")

# Index of the visibility logit in the model's ``landmarks`` output (x, y, z, visibility, presence).
VISIBILITY_INDEX = 3

DEFAULT_FOCAL_GAMMA = 2.0
DEFAULT_HUBER_DELTA = 0.02
# Feng et al.'s w = 10 and epsilon = 2 (pixels of their input), here in crop units: the same
# 10 and 2 pixels of a 256-pixel crop (rounded), keeping their ratio w / epsilon = 5.
DEFAULT_WING_WIDTH = 0.04
DEFAULT_WING_EPSILON = 0.008


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Which loss each head uses, and how the heads are weighted in the total.

    Attributes:
      heatmap: loss of the ``heatmap`` logits against the Gaussian targets (see
        :func:`heatmap_loss`). ``bce``: binary cross-entropy with the soft Gaussian target, mean
        over cells. ``focal``: the binary focal loss generalised to soft targets (Quality Focal
        Loss), summed over cells, i.e. normalised per keypoint peak as CornerNet normalises by the
        number of objects. ``mse``: squared error of sigmoid(logits), mean over cells. The three
        have different scales: tune ``heatmap_weight`` with the kind.
      regression: per-coordinate loss of the regressed x, y (see :func:`regression_loss`):
        ``huber`` (smooth-L1 form), ``wing`` (Feng et al. 2018) or ``l1``. Coordinates are divided
        by the crop size first, so errors, ``huber_delta``, ``wing_width`` and ``wing_epsilon``
        are in crop units (1.0 = the crop's side; 0.04 is about 10 pixels of a 256 crop).
      heatmap_weight: weight of the heatmap loss in the total. (Not the targets' per-keypoint
        ``heatmap_weight``, which masks keypoints inside the heatmap loss.)
      offset_weight: weight of the offset-map L1 loss (models with an offset head).
      regression_weight: weight of the landmark regression loss.
      visibility_weight: weight of the visibility cross-entropy.
      preserve_weight: weight of the loss that keeps the pose flag, which 2-D keypoint labels
        say nothing about, where the starting network put it on the same crops
        (:func:`preserve_loss`; the trainer runs a frozen copy of the ``init_from`` network
        beside the one it trains, and re-fits the flag's head alone on this loss). 0 turns it
        off. Fine-tuning moves the features the flag's head reads: without it, 400 steps on LSP
        dropped the flag on a head-and-shoulders photo from 0.98 to 0.51, and MediaPipe, which
        drops a pose whose flag is under 0.5, lost the person.
      distill_weight: weight of :func:`distill_loss`: every output (landmarks, visibility,
        world landmarks, pose flag, heatmap) matched to a frozen float copy of the ``init_from``
        network on the same crops, through the whole network (quantisation-aware training).
        0 turns it off.
      focal_gamma: focusing exponent of the ``focal`` heatmap loss (0 gives back BCE, summed).
      huber_delta: where the ``huber`` loss turns from quadratic to linear, crop units.
      wing_width: Wing loss ``w``: the range of errors (crop units) with the logarithmic shape.
      wing_epsilon: Wing loss ``epsilon``: curvature of the logarithmic part (crop units); the
        slope at zero error is ``wing_width / wing_epsilon``.
    """

    heatmap: HeatmapLossKind = "bce"
    regression: RegressionLossKind = "wing"
    heatmap_weight: float = 1.0
    offset_weight: float = 1.0
    regression_weight: float = 1.0
    visibility_weight: float = 1.0
    preserve_weight: float = 0.0
    distill_weight: float = 0.0
    focal_gamma: float = DEFAULT_FOCAL_GAMMA
    huber_delta: float = DEFAULT_HUBER_DELTA
    wing_width: float = DEFAULT_WING_WIDTH
    wing_epsilon: float = DEFAULT_WING_EPSILON

    def __post_init__(self):
        if self.heatmap not in HEATMAP_LOSS_KINDS:
            raise ValueError(f"LossConfig.heatmap must be one of {HEATMAP_LOSS_KINDS}, "
                             f"got {self.heatmap!r}")
        if self.regression not in REGRESSION_LOSS_KINDS:
            raise ValueError(f"LossConfig.regression must be one of {REGRESSION_LOSS_KINDS}, "
                             f"got {self.regression!r}")
        for name in ("heatmap_weight", "offset_weight", "regression_weight", "visibility_weight",
                     "preserve_weight", "distill_weight", "focal_gamma"):
            _check_number(name, getattr(self, name), positive=False)
        for name in ("huber_delta", "wing_width", "wing_epsilon"):
            _check_number(name, getattr(self, name), positive=True)

    def head_weight(self, head: str) -> float:
        """The weight of ``head`` (one of :data:`HEADS` or ``preserve``) in the total loss."""
        weights = {"heatmap": self.heatmap_weight, "offsets": self.offset_weight,
                   "regression": self.regression_weight, "visibility": self.visibility_weight,
                   PRESERVE: self.preserve_weight, DISTILL: self.distill_weight}
        return weights[head]


def _check_number(name: str, value, positive: bool) -> None:
    """Raises ValueError naming ``LossConfig.<name>`` unless ``value`` is a finite real >= 0
    (> 0 when ``positive``)."""
    is_real = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_real or not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"LossConfig.{name} must be a finite number {bound}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Helpers


def _float32(tensor) -> tf.Tensor:
    """Model outputs may be float16 under mixed precision: all loss arithmetic is float32."""
    return tf.cast(tensor, tf.float32)


def _num_keypoints(target: tf.Tensor, axis: int = -1) -> int:
    """K, the static size of the targets' keypoint axis (needed to slice the model outputs)."""
    count = tf.convert_to_tensor(target).shape[axis]
    if count is None:
        raise ValueError(f"the targets' keypoint axis must have a static size, got shape "
                         f"{target.shape}")
    return count


def _first_keypoints(outputs: tf.Tensor, count: int, axis: int, name: str) -> tf.Tensor:
    """The first ``count`` entries of ``outputs`` along ``axis`` (the K supervised landmarks),
    cast to float32. Raises ValueError when the model has fewer (statically known)."""
    outputs = tf.convert_to_tensor(outputs)
    available = outputs.shape[axis]
    if available is not None and available < count:
        raise ValueError(f"{name} has {available} entries on axis {axis}, fewer than the "
                         f"{count} the targets need")
    index = [slice(None)] * outputs.shape.rank
    index[axis] = slice(0, count)
    return _float32(outputs[tuple(index)])


def _mean_over_keypoints(per_keypoint: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    """Weighted mean over the last axis: ``[B, K]`` losses and weights -> ``[B]``.

    Keypoints with weight 0 are excluded from the value (even if their loss is huge) and the
    denominator; an example whose weights are all 0 gets 0 (and zero gradient).
    """
    weighted = tf.where(weight > 0.0, per_keypoint * weight, 0.0)
    return tf.math.divide_no_nan(tf.reduce_sum(weighted, axis=-1), tf.reduce_sum(weight, axis=-1))


def wing(error: tf.Tensor, width: float = DEFAULT_WING_WIDTH,
         epsilon: float = DEFAULT_WING_EPSILON) -> tf.Tensor:
    """Wing loss (Feng et al., "Wing Loss for Robust Facial Landmark Localisation with
    Convolutional Neural Networks", CVPR 2018), elementwise.

    ``w * ln(1 + |x| / epsilon)`` for ``|x| < w``, else ``|x| - C`` with
    ``C = w - w * ln(1 + w / epsilon)`` (continuous at ``|x| = w``). Logarithmic (larger
    gradients than L1) for small and medium errors, L1 for large ones.
    """
    magnitude = tf.abs(error)
    offset = width - width * math.log1p(width / epsilon)
    return tf.where(magnitude < width, width * tf.math.log1p(magnitude / epsilon),
                    magnitude - offset)


def huber(error: tf.Tensor, delta: float = DEFAULT_HUBER_DELTA) -> tf.Tensor:
    """Huber loss divided by ``delta`` (the "smooth L1" form of Girshick's Fast R-CNN),
    elementwise: ``0.5 x^2 / delta`` for ``|x| < delta``, else ``|x| - 0.5 delta``.

    Dividing by ``delta`` makes the large-error slope 1, as L1's, whatever ``delta``.
    """
    magnitude = tf.abs(error)
    return tf.where(magnitude < delta, 0.5 * tf.square(error) / delta, magnitude - 0.5 * delta)


# ---------------------------------------------------------------------------------------------
# Per-head losses


def heatmap_loss(target: tf.Tensor, logits: tf.Tensor, weight: tf.Tensor,
                 kind: HeatmapLossKind = "bce",
                 focal_gamma: float = DEFAULT_FOCAL_GAMMA) -> tf.Tensor:
    """Heatmap loss per example.

    Args:
      target: float32 ``[B, H, W, K]`` Gaussian heatmaps in [0, 1] (all zero for a keypoint
        outside the crop: supervised as "no peak").
      logits: ``[B, H, W, L]`` (L >= K; any float dtype) the model's heatmap logits.
      weight: ``[B, K]`` per-keypoint weight, 1 for labelled keypoints and 0 otherwise (the
        targets' ``heatmap_weight``). The result is the weighted mean over keypoints.
      kind: the per-keypoint loss, with ``p = sigmoid(logits)`` and ``y = target``:
        ``bce``: ``mean_cells[-y log p - (1 - y) log(1 - p)]``. Its minimum is at ``p = y``, where
          it equals the mean binary entropy of the target (not 0).
        ``focal``: ``sum_cells[|y - p|^gamma * BCE(y, p)]``: the binary focal loss (Lin et al.,
          "Focal Loss for Dense Object Detection", 2017), ``(1 - p_t)^gamma * CE``, generalised to
          the soft Gaussian targets as the Quality Focal Loss (Li et al., "Generalized Focal
          Loss", 2020). Easy cells (``p`` close to ``y``, e.g. confident background) are
          down-weighted; its minimum is 0 at ``p = y``. Summed over cells: each keypoint channel
          holds at most one peak, so this is CornerNet's normalisation by the number of objects.
          (CornerNet's own penalty-reduced loss needs cells with target exactly 1, which these
          Gaussians, sampled at cell centres, do not have.)
        ``mse``: ``mean_cells[(p - y)^2]``, 0 at ``p = y``.
      focal_gamma: the focusing exponent of ``focal`` (>= 0).

    Returns:
      float32 ``[B]``.
    """
    if kind not in HEATMAP_LOSS_KINDS:
        raise ValueError(f"heatmap loss kind must be one of {HEATMAP_LOSS_KINDS}, got {kind!r}")
    target = _float32(target)
    logits = _first_keypoints(logits, _num_keypoints(target), axis=-1, name="heatmap logits")
    if kind == "mse":
        per_cell = tf.square(tf.sigmoid(logits) - target)
    else:
        per_cell = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits)
        if kind == "focal":
            # max() keeps the gradient of |.|^gamma finite for gamma < 1 when p == y exactly.
            distance = tf.maximum(tf.abs(target - tf.sigmoid(logits)), 1e-12)
            per_cell = tf.pow(distance, focal_gamma) * per_cell
    reduce = tf.reduce_sum if kind == "focal" else tf.reduce_mean
    per_keypoint = reduce(per_cell, axis=[1, 2])  # [B, K]
    return _mean_over_keypoints(per_keypoint, _float32(weight))


def offset_loss(target: tf.Tensor, predicted: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """L1 loss of the offset maps, only in the cells near each keypoint, per example.

    Per keypoint: the mean over its masked cells of ``|dx| + |dy|`` (heatmap cells), the L1
    length of the offset error. Per example: the mean over keypoints that have at least one
    masked cell. The mask must be 0 for unlabelled keypoints (``make_targets``' is;
    :func:`compute_losses` also multiplies it by ``labelled``).

    Args:
      target: float32 ``[B, H, W, 2K]`` per cell and keypoint the (x, y) vector from the cell
        centre to the keypoint, in cells, interleaved ``x0, y0, x1, y1, ...``.
      predicted: ``[B, H, W, 2L]`` (L >= K; any float dtype) the model's offsets, same layout.
      mask: float32 ``[B, H, W, K]``, 1 in the supervised cells (within the offset radius of a
        labelled keypoint inside the crop), else 0.

    Returns:
      float32 ``[B]``.
    """
    mask = _float32(mask)
    count = _num_keypoints(mask)
    target = _float32(target)
    predicted = _first_keypoints(predicted, 2 * count, axis=-1, name="offsets")
    pairs = tf.concat([tf.shape(mask), [2]], axis=0)  # [B, H, W, K, 2]
    error = tf.reduce_sum(tf.abs(tf.reshape(predicted - target, pairs)), axis=-1)  # [B, H, W, K]
    supervised_cells = tf.reduce_sum(mask, axis=[1, 2])  # [B, K]
    masked_error = tf.reduce_sum(tf.where(mask > 0.0, error * mask, 0.0), axis=[1, 2])
    per_keypoint = tf.math.divide_no_nan(masked_error, supervised_cells)
    return _mean_over_keypoints(per_keypoint, tf.cast(supervised_cells > 0.0, tf.float32))


def regression_loss(target_xy: tf.Tensor, predicted_landmarks: tf.Tensor, labelled: tf.Tensor,
                    kind: RegressionLossKind = "wing", crop_size: float = 256.0,
                    huber_delta: float = DEFAULT_HUBER_DELTA,
                    wing_width: float = DEFAULT_WING_WIDTH,
                    wing_epsilon: float = DEFAULT_WING_EPSILON) -> tf.Tensor:
    """Landmark regression loss on x, y, in crop units, per example.

    Target and prediction are divided by ``crop_size`` so the errors are fractions of the crop's
    side (independent of the input resolution); the per-keypoint loss is the sum over x and y of
    the elementwise loss (as Feng et al. sum Wing over coordinates), then the mean over labelled
    keypoints. z, and the visibility and presence logits, are not used here.

    Args:
      target_xy: float32 ``[B, K, 2]`` keypoints in crop pixels (any value where unlabelled;
        labelled keypoints outside the crop are supervised too).
      predicted_landmarks: ``[B, L, 5]`` (L >= K; any float dtype) the model's raw landmarks,
        x and y in crop pixels.
      labelled: bool ``[B, K]``.
      kind: ``l1`` ``|e|``; ``huber`` see :func:`huber`; ``wing`` see :func:`wing`.
      crop_size: the crop's side in pixels (the model input, 256).
      huber_delta, wing_width, wing_epsilon: parameters of those kinds, in crop units.

    Returns:
      float32 ``[B]``.
    """
    if kind not in REGRESSION_LOSS_KINDS:
        raise ValueError(f"regression loss kind must be one of {REGRESSION_LOSS_KINDS}, "
                         f"got {kind!r}")
    if not crop_size > 0:
        raise ValueError(f"crop_size must be > 0, got {crop_size!r}")
    target_xy = _float32(target_xy)
    predicted = _first_keypoints(predicted_landmarks, _num_keypoints(target_xy, axis=-2),
                                 axis=-2, name="landmarks")
    error = (predicted[..., :2] - target_xy) / float(crop_size)  # [B, K, 2], crop units
    if kind == "l1":
        per_coordinate = tf.abs(error)
    elif kind == "huber":
        per_coordinate = huber(error, huber_delta)
    else:
        per_coordinate = wing(error, wing_width, wing_epsilon)
    return _mean_over_keypoints(tf.reduce_sum(per_coordinate, axis=-1),
                                tf.cast(labelled, tf.float32))


def visibility_loss(visibility: tf.Tensor, labelled: tf.Tensor,
                    visibility_logits: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy of the visibility logits, mean over labelled keypoints, per example.

    Args:
      visibility: float32 ``[B, K]``, 1 visible, 0 occluded or outside the crop.
      labelled: bool ``[B, K]``.
      visibility_logits: ``[B, L]`` (L >= K; any float dtype), the model's visibility logits
        (``landmarks[..., 3]``).

    Returns:
      float32 ``[B]``.
    """
    visibility = _float32(visibility)
    logits = _first_keypoints(visibility_logits, _num_keypoints(visibility), axis=-1,
                              name="visibility logits")
    per_keypoint = tf.nn.sigmoid_cross_entropy_with_logits(labels=visibility, logits=logits)
    return _mean_over_keypoints(per_keypoint, tf.cast(labelled, tf.float32))


# ---------------------------------------------------------------------------------------------
# All heads


def preserve_loss(outputs: Mapping[str, tf.Tensor], reference: Mapping[str, tf.Tensor]
                  ) -> tf.Tensor:
    """Per-example ``[B]`` KL divergence of the pose flag from a reference network's flag
    (both Bernoulli probabilities; 0 when equal).

    Only the flag: the world landmarks move with the image landmarks the labels correct, so
    holding them back holds the fine-tune back (measured on LSP, 400 steps: PCK@0.2 0.801 with
    them against 0.824 without).

    Args:
      outputs, reference: ``pose_flag [B, 1]`` probabilities of the network being trained and
        of the frozen starting network.
    """
    epsilon = 1e-6
    flag = tf.clip_by_value(_float32(outputs["pose_flag"])[:, 0], epsilon, 1 - epsilon)
    target = tf.clip_by_value(tf.stop_gradient(_float32(reference["pose_flag"]))[:, 0],
                              epsilon, 1 - epsilon)
    return (target * tf.math.log(target / flag)
            + (1 - target) * tf.math.log((1 - target) / (1 - flag)))


def _bernoulli_kl(target_logits, logits):
    """KL divergence of Bernoulli(sigmoid(logits)) from Bernoulli(sigmoid(target_logits)),
    elementwise, float32 (0 where equal)."""
    target = tf.sigmoid(target_logits)
    return (tf.nn.sigmoid_cross_entropy_with_logits(target, logits)
            - tf.nn.sigmoid_cross_entropy_with_logits(target, target_logits))


def distill_loss(outputs: Mapping[str, tf.Tensor], reference: Mapping[str, tf.Tensor],
                 crop_size: float = 256.0) -> tf.Tensor:
    """Per-example ``[B]`` distance of every output from a frozen reference network's on the
    same crops (quantisation-aware training: the quantised network learns to give the float
    network's answers). Sum of, each about 1 for a 1-pixel / 1-cm error:

    * landmarks x, y, z: mean absolute difference in pixels of a 256 crop (``crop_size`` is
      the crops' side in the outputs' pixels);
    * visibility and presence logits: mean Bernoulli KL divergence, times 10;
    * world landmarks: mean absolute difference in centimetres;
    * pose flag: Bernoulli KL divergence (of the probabilities), times 10;
    * heatmap: Bernoulli KL divergence of the cells, summed over the 64x64 cells and averaged
      over landmarks.

    Args:
      outputs, reference: dicts with :data:`DISTILLED_OUTPUTS` (``landmarks [B, L, 5]``,
        ``world_landmarks [B, L, 3]``, ``pose_flag [B, 1]``, ``heatmap [B, 64, 64, L]``);
        the reference is not differentiated.
    """
    reference = {key: tf.stop_gradient(_float32(reference[key])) for key in DISTILLED_OUTPUTS}
    landmarks, target = _float32(outputs["landmarks"]), reference["landmarks"]
    pixels = 256.0 / crop_size
    position = tf.reduce_mean(tf.abs(landmarks[..., :3] - target[..., :3]), axis=[1, 2]) * pixels
    logits = tf.reduce_mean(_bernoulli_kl(target[..., 3:], landmarks[..., 3:]), axis=[1, 2])
    world = 100.0 * tf.reduce_mean(
        tf.abs(_float32(outputs["world_landmarks"]) - reference["world_landmarks"]), axis=[1, 2])
    epsilon = 1e-6
    flag = tf.clip_by_value(_float32(outputs["pose_flag"])[:, 0], epsilon, 1 - epsilon)
    flag_target = tf.clip_by_value(reference["pose_flag"][:, 0], epsilon, 1 - epsilon)
    flag_kl = (flag_target * tf.math.log(flag_target / flag)
               + (1 - flag_target) * tf.math.log((1 - flag_target) / (1 - flag)))
    heatmap = tf.reduce_mean(tf.reduce_sum(
        _bernoulli_kl(reference["heatmap"], _float32(outputs["heatmap"])), axis=[1, 2]), axis=1)
    return position + 10.0 * logits + world + 10.0 * flag_kl + heatmap


def compute_losses(batch: Mapping[str, tf.Tensor], outputs: Mapping[str, tf.Tensor],
                   config: LossConfig, crop_size: float = 256.0,
                   phase: Phase = "joint",
                   reference: Mapping[str, tf.Tensor] | None = None) -> dict[str, tf.Tensor]:
    """Per-example losses of the heads the phase trains, and their weighted sum.

    Phases: ``heatmap`` trains the heatmap (and the offsets, when both the targets and the model
    have them); ``regression`` trains the regressed landmarks and visibility; ``joint`` all four.
    A head is skipped when its targets (``batch``) or output (``outputs``) are missing: e.g. no
    ``offsets`` without an offset head, or without ``TargetConfig.offsets``.

    Args:
      batch: the targets (keys as :data:`blazepose.data.ops.TRAINING_KEYS`; others are ignored).
        ``heatmap_weight`` defaults to ``labelled`` when absent.
      outputs: the landmark model's outputs (``landmarks``, ``heatmap``, optional ``offsets``),
        float32 or float16.
      config: loss kinds and head weights.
      crop_size: the model input's side in pixels; regression errors are divided by it.
      phase: ``heatmap``, ``regression`` or ``joint``.
      reference: the frozen starting network's outputs on the same crops: with
        ``config.preserve_weight > 0`` (its :data:`PRESERVED_OUTPUTS`) they add ``preserve``
        (:func:`preserve_loss`, any phase: every phase moves features those heads read); with
        ``config.distill_weight > 0`` (its :data:`DISTILLED_OUTPUTS`) ``distill``
        (:func:`distill_loss`).

    Returns:
      A dict of float32 ``[B]`` tensors: one per computed head (``heatmap``, ``offsets``,
      ``regression``, ``visibility``, ``preserve``, ``distill``) and ``total``, the sum of each
      head's loss times its weight in ``config``.

    Raises:
      ValueError: for an unknown phase, or when none of the phase's heads can be computed.
    """
    if phase not in PHASE_HEADS:
        raise ValueError(f"phase must be one of {tuple(PHASE_HEADS)}, got {phase!r}")
    heads = PHASE_HEADS[phase]
    losses: dict[str, tf.Tensor] = {}
    has_labels = "labelled" in batch

    if "heatmap" in heads and "heatmap" in batch and "heatmap" in outputs and (
            "heatmap_weight" in batch or has_labels):
        weight = batch.get("heatmap_weight")
        if weight is None:
            weight = tf.cast(batch["labelled"], tf.float32)
        losses["heatmap"] = heatmap_loss(batch["heatmap"], outputs["heatmap"], weight,
                                         config.heatmap, config.focal_gamma)

    if "offsets" in heads and "offsets" in outputs and all(
            key in batch for key in ("offsets", "offset_mask")):
        mask = _float32(batch["offset_mask"])
        if has_labels:
            mask *= tf.cast(batch["labelled"], tf.float32)[:, tf.newaxis, tf.newaxis, :]
        losses["offsets"] = offset_loss(batch["offsets"], outputs["offsets"], mask)

    has_landmarks = "landmarks" in outputs and has_labels
    if "regression" in heads and has_landmarks and "landmarks" in batch:
        losses["regression"] = regression_loss(
            batch["landmarks"], outputs["landmarks"], batch["labelled"], config.regression,
            crop_size, config.huber_delta, config.wing_width, config.wing_epsilon)

    if "visibility" in heads and has_landmarks and "visibility" in batch:
        losses["visibility"] = visibility_loss(batch["visibility"], batch["labelled"],
                                               outputs["landmarks"][..., VISIBILITY_INDEX])

    if reference is not None and config.preserve_weight > 0:
        losses[PRESERVE] = preserve_loss(outputs, reference)
    if reference is not None and config.distill_weight > 0:
        losses[DISTILL] = distill_loss(outputs, reference, crop_size)

    if not losses:
        raise ValueError(f"phase {phase!r} trains {heads}, but none has both its targets "
                         f"(batch keys {sorted(batch)}) and its output (model outputs "
                         f"{sorted(outputs)})")
    losses[TOTAL] = tf.add_n([config.head_weight(head) * loss for head, loss in losses.items()])
    return losses
