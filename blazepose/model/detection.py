"""The person detector's pre- and post-processing, as TensorFlow ops (MediaPipe's calculators).

The pipeline, as MediaPipe's ``pose_detection_cpu.pbtxt`` and ``pose_detection_to_roi.pbtxt`` run
it: :func:`letterbox` the whole image to 224x224 -> detector
(:func:`blazepose.model.detector.build_detector_model`) -> :func:`decode_detections` with the
anchors of :func:`generate_anchors` -> :func:`weighted_non_max_suppression` ->
:func:`remove_letterbox` -> :func:`detection_to_roi` of the first detection, the crop for the
landmark network.

Coordinate conventions:

* Normalised coordinates are continuous: x, y in [0, 1] across an image, so pixel ``i`` of a
  W-pixel row spans ``[i / W, (i + 1) / W)``; points are ``(x, y)``, x first.
* Boxes are ``(xmin, ymin, xmax, ymax)`` in normalised coordinates (MediaPipe stores
  ``xmin, ymin, width, height``; the numbers are the same). Before :func:`remove_letterbox` they
  are relative to the 224x224 letterboxed detector input, after it to the original image.
* Keypoints are ``[..., 4, 2]``: 0 mid-hip, 1 a point fixing full-body size and rotation,
  2 mid-shoulder, 3 a point fixing upper-body size and rotation.
* Letterbox padding is ``(left, top, right, bottom)`` as fractions of the letterboxed image, as
  MediaPipe's ``LETTERBOX_PADDING`` stream.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

DETECTOR_INPUT_SIZE = 224
NUM_KEYPOINTS = 4
SCORE_CLIPPING_THRESHOLD = 100.0
MIN_SCORE = 0.5
MIN_SUPPRESSION_IOU = 0.3
ROI_SCALE = 1.25
ROI_TARGET_ANGLE = math.pi / 2  # keypoint 1 straight above keypoint 0 means no rotation


@dataclasses.dataclass(frozen=True)
class SsdAnchorOptions:
    """MediaPipe's ``SsdAnchorsCalculatorOptions`` (the subset its pose detector uses).

    Defaults are the pose detector's, from ``pose_detection_cpu.pbtxt`` (the interpolated scale
    aspect ratio is the proto's default, 1.0).

    Attributes:
      input_height, input_width: the detector input, pixels.
      min_scale, max_scale: anchor scales of the first and last layer, linearly interpolated.
      strides: one per layer; layers with equal consecutive strides share one grid of
        ``ceil(input / stride)`` cells and concatenate their anchors within each cell.
      aspect_ratios: one anchor per ratio per layer.
      interpolated_scale_aspect_ratio: if > 0, one more anchor per layer with this ratio and the
        scale ``sqrt(scale * next_scale)`` (``next_scale`` is 1 for the last layer).
      anchor_offset_x, anchor_offset_y: anchor centre within its cell, in cells.
      fixed_anchor_size: every anchor has w = h = 1 (the pose detector's setting).
    """

    input_height: int = DETECTOR_INPUT_SIZE
    input_width: int = DETECTOR_INPUT_SIZE
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    fixed_anchor_size: bool = True

    def __post_init__(self):
        if self.input_height < 1 or self.input_width < 1:
            raise ValueError(f"input size must be positive, got {self.input_height}x"
                             f"{self.input_width}")
        if not self.strides or min(self.strides) < 1:
            raise ValueError(f"strides must be one positive integer per layer, got "
                             f"{self.strides}")
        if not self.aspect_ratios and self.interpolated_scale_aspect_ratio <= 0:
            raise ValueError("no anchors per cell: give aspect_ratios or a positive "
                             "interpolated_scale_aspect_ratio")
        if any(ratio <= 0 for ratio in self.aspect_ratios):
            raise ValueError(f"aspect ratios must be positive, got {self.aspect_ratios}")

    @property
    def num_layers(self) -> int:
        return len(self.strides)


POSE_DETECTOR_ANCHORS = SsdAnchorOptions()


def _layer_scale(options: SsdAnchorOptions, layer: int) -> float:
    if options.num_layers == 1:
        return (options.min_scale + options.max_scale) * 0.5
    return options.min_scale + (options.max_scale - options.min_scale) * layer / (
        options.num_layers - 1)


@dataclasses.dataclass(frozen=True)
class AnchorGrid:
    """One anchor grid: layers of equal stride merged. Sizes are (width, height) per anchor."""

    stride: int
    grid_height: int
    grid_width: int
    anchor_sizes: tuple[tuple[float, float], ...]

    @property
    def anchors_per_cell(self) -> int:
        return len(self.anchor_sizes)

    @property
    def num_anchors(self) -> int:
        return self.grid_height * self.grid_width * self.anchors_per_cell


def anchor_grids(options: SsdAnchorOptions = POSE_DETECTOR_ANCHORS) -> list[AnchorGrid]:
    """The anchor grids of MediaPipe's SSD anchor rule, in output order.

    Consecutive layers with the same stride form one grid of ``ceil(input / stride)`` cells; each
    of them contributes ``len(aspect_ratios)`` anchors (+1 with an interpolated scale) to every
    cell. For the pose detector: 28x28 with 2 anchors, 14x14 with 2, 7x7 with 6.
    """
    grids = []
    layer = 0
    while layer < options.num_layers:
        stride = options.strides[layer]
        sizes = []
        while layer < options.num_layers and options.strides[layer] == stride:
            scale = _layer_scale(options, layer)
            scaled_ratios = [(scale, ratio) for ratio in options.aspect_ratios]
            if options.interpolated_scale_aspect_ratio > 0:
                next_scale = (1.0 if layer == options.num_layers - 1
                              else _layer_scale(options, layer + 1))
                scaled_ratios.append((math.sqrt(scale * next_scale),
                                      options.interpolated_scale_aspect_ratio))
            for anchor_scale, ratio in scaled_ratios:
                sizes.append((anchor_scale * math.sqrt(ratio), anchor_scale / math.sqrt(ratio)))
            layer += 1
        grids.append(AnchorGrid(stride=stride,
                                grid_height=math.ceil(options.input_height / stride),
                                grid_width=math.ceil(options.input_width / stride),
                                anchor_sizes=tuple(sizes)))
    return grids


def generate_anchors(options: SsdAnchorOptions = POSE_DETECTOR_ANCHORS,
                     with_sizes: bool = False) -> tf.Tensor:
    """MediaPipe's ``SsdAnchorsCalculator``: the anchors of the detector's outputs, in order.

    For each grid of :func:`anchor_grids`, rows top to bottom, columns left to right, and the
    anchors of a cell consecutive: centre ``((col + offset_x) / grid_width,
    (row + offset_y) / grid_height)``, normalised to the detector input.

    With the pose detector's options every anchor has w = h = 1 (``fixed_anchor_size``), so the
    centres are all decoding needs: 2254 anchors, ``28*28*2 + 14*14*2 + 7*7*6``.

    Returns:
      float32 ``[A, 2]`` (x, y) centres, or ``[A, 4]`` (x, y, w, h) with ``with_sizes``.
    """
    per_grid = []
    for grid in anchor_grids(options):
        rows, cols = np.meshgrid(np.arange(grid.grid_height), np.arange(grid.grid_width),
                                 indexing="ij")
        # float32 arithmetic, as MediaPipe's: (index + offset) / cells.
        x = (cols.astype(np.float32) + np.float32(options.anchor_offset_x)) / np.float32(
            grid.grid_width)
        y = (rows.astype(np.float32) + np.float32(options.anchor_offset_y)) / np.float32(
            grid.grid_height)
        centres = np.repeat(np.stack([x, y], axis=-1).reshape(-1, 1, 2),
                            grid.anchors_per_cell, axis=1)  # [cells, anchors per cell, 2]
        if with_sizes:
            sizes = (np.ones((grid.anchors_per_cell, 2)) if options.fixed_anchor_size
                     else np.asarray(grid.anchor_sizes))
            sizes = np.broadcast_to(sizes, centres.shape)
            centres = np.concatenate([centres, sizes.astype(np.float32)], axis=-1)
        per_grid.append(centres.reshape(-1, centres.shape[-1]))
    return tf.constant(np.concatenate(per_grid, axis=0), tf.float32)


def decode_detections(boxes: tf.Tensor, scores: tf.Tensor, anchors: tf.Tensor,
                      input_size: float = DETECTOR_INPUT_SIZE,
                      score_clipping_threshold: float = SCORE_CLIPPING_THRESHOLD) -> dict:
    """MediaPipe's ``TensorsToDetectionsCalculator`` with the pose detector's options.

    Box regressors are ``[xc, yc, w, h, kp0x, kp0y, ...]`` in ``input_size`` pixel units:
    centre = value / input_size * anchor size + anchor centre, keypoints likewise, w and h =
    value / input_size * anchor size (no exponential). Scores: sigmoid of the logit clipped to
    ``[-score_clipping_threshold, score_clipping_threshold]``. Nothing is filtered here;
    :func:`weighted_non_max_suppression` drops low scores and boxes of negative size.

    Args:
      boxes: float ``[..., A, 4 + 2K]`` raw regressors (the detector's ``boxes``).
      scores: float ``[..., A, 1]`` raw logits (the detector's ``scores``).
      anchors: float ``[A, 2]`` centres (sizes 1) or ``[A, 4]`` (x, y, w, h), normalised, from
        :func:`generate_anchors`.
      input_size: the detector's input side in pixels (MediaPipe's x/y/w/h scales).
    Returns:
      dict of float32 tensors normalised to the detector input:
      ``boxes`` ``[..., A, 4]`` (xmin, ymin, xmax, ymax), ``keypoints`` ``[..., A, K, 2]`` (x, y),
      ``scores`` ``[..., A]`` probabilities.
    Raises:
      ValueError: shapes that do not fit together, or a non-positive ``input_size``.
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    scores = tf.convert_to_tensor(scores, tf.float32)
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    if input_size <= 0:
        raise ValueError(f"input_size must be positive, got {input_size}")
    coords = boxes.shape[-1]
    if boxes.shape.rank is None or boxes.shape.rank < 2 or coords is None or coords < 4 or (
            coords - 4) % 2:
        raise ValueError(f"boxes must be [..., A, 4 + 2K] (xc, yc, w, h, then keypoints x, y), "
                         f"got shape {boxes.shape}")
    if scores.shape.rank != boxes.shape.rank or scores.shape[-1] != 1:
        raise ValueError(f"scores must be [..., A, 1] logits matching boxes {boxes.shape}, got "
                         f"shape {scores.shape}")
    if anchors.shape.rank != 2 or anchors.shape[-1] not in (2, 4):
        raise ValueError(f"anchors must be [A, 2] centres or [A, 4] (x, y, w, h), got shape "
                         f"{anchors.shape}")
    for name, tensor in (("scores", scores), ("anchors", anchors)):
        count = tensor.shape[-2]
        if None not in (count, boxes.shape[-2]) and count != boxes.shape[-2]:
            raise ValueError(f"boxes has {boxes.shape[-2]} anchors but {name} has {count}")

    centres = anchors[:, :2]
    sizes = anchors[:, 2:4] if anchors.shape[-1] == 4 else tf.ones_like(centres)
    scale = tf.constant(float(input_size), tf.float32)
    centre = boxes[..., 0:2] / scale * sizes + centres
    half_size = boxes[..., 2:4] / scale * sizes / 2.0
    keypoints = tf.reshape(boxes[..., 4:], tf.concat([tf.shape(boxes)[:-1], [-1, 2]], 0))
    keypoints = keypoints / scale * sizes[:, tf.newaxis, :] + centres[:, tf.newaxis, :]
    logits = tf.clip_by_value(scores[..., 0], -score_clipping_threshold,
                              score_clipping_threshold)
    return {
        "boxes": tf.concat([centre - half_size, centre + half_size], axis=-1),
        "keypoints": keypoints,
        "scores": tf.sigmoid(logits),
    }


def _iou_with(box: tf.Tensor, boxes: tf.Tensor) -> tf.Tensor:
    """IoU of one ``[4]`` box with ``[A, 4]`` boxes (xmin, ymin, xmax, ymax); 0 where undefined."""
    top_left = tf.maximum(box[:2], boxes[:, :2])
    bottom_right = tf.minimum(box[2:], boxes[:, 2:])
    overlap = tf.maximum(bottom_right - top_left, 0.0)
    intersection = overlap[:, 0] * overlap[:, 1]

    def area(b):
        return tf.maximum(b[..., 2] - b[..., 0], 0.0) * tf.maximum(b[..., 3] - b[..., 1], 0.0)

    union = area(box) + area(boxes) - intersection
    return tf.where(union > 0, intersection / tf.where(union > 0, union, 1.0), 0.0)


def _weighted_nms_single(boxes, keypoints, scores, iou_threshold, min_score, max_detections):
    order = tf.argsort(scores, direction="DESCENDING", stable=True)
    boxes = tf.gather(boxes, order)
    keypoints = tf.gather(keypoints, order)
    scores = tf.gather(scores, order)
    # MediaPipe drops boxes below the score threshold and boxes of negative (or NaN) size.
    remaining = ((scores >= min_score) & (boxes[:, 2] >= boxes[:, 0])
                 & (boxes[:, 3] >= boxes[:, 1]))
    num_keypoints = tf.shape(keypoints)[1]
    out_boxes = tf.zeros([max_detections, 4], tf.float32)
    out_keypoints = tf.zeros(tf.stack([max_detections, num_keypoints, 2]), tf.float32)
    out_scores = tf.zeros([max_detections], tf.float32)

    def keep_going(count, remaining, *_):
        return (count < max_detections) & tf.reduce_any(remaining)

    def merge_next(count, remaining, out_boxes, out_keypoints, out_scores):
        # Scores are sorted, so the first remaining detection is the best one left.
        top = tf.argmax(tf.cast(remaining, tf.int32), output_type=tf.int32)
        candidates = remaining & (_iou_with(boxes[top], boxes) > iou_threshold)
        weights = tf.where(candidates, scores, 0.0)
        total = tf.reduce_sum(weights)
        merge = tf.reduce_any(candidates) & (total > 0)
        safe_total = tf.where(merge, total, 1.0)
        box = tf.where(merge, tf.tensordot(weights, boxes, 1) / safe_total, boxes[top])
        points = tf.where(merge, tf.tensordot(weights, keypoints, 1) / safe_total,
                          keypoints[top])
        at = tf.reshape(count, [1, 1])
        out_boxes = tf.tensor_scatter_nd_update(out_boxes, at, box[tf.newaxis])
        out_keypoints = tf.tensor_scatter_nd_update(out_keypoints, at, points[tf.newaxis])
        out_scores = tf.tensor_scatter_nd_update(out_scores, at, scores[top][tf.newaxis])
        # Like MediaPipe, stop when nothing was absorbed (only possible for a degenerate box).
        remaining = tf.where(tf.reduce_any(candidates), remaining & ~candidates,
                             tf.zeros_like(remaining))
        return count + 1, remaining, out_boxes, out_keypoints, out_scores

    count, _, out_boxes, out_keypoints, out_scores = tf.while_loop(
        keep_going, merge_next,
        (tf.constant(0, tf.int32), remaining, out_boxes, out_keypoints, out_scores),
        maximum_iterations=max_detections)
    return {
        "boxes": out_boxes,
        "keypoints": out_keypoints,
        "scores": out_scores,
        "valid": tf.range(max_detections) < count,
        "count": count,
    }


def weighted_non_max_suppression(boxes: tf.Tensor, keypoints: tf.Tensor, scores: tf.Tensor,
                                 iou_threshold: float = MIN_SUPPRESSION_IOU,
                                 min_score: float = MIN_SCORE, max_detections: int = 10) -> dict:
    """MediaPipe's weighted non-max suppression (``NonMaxSuppressionCalculator``, ``WEIGHTED``).

    Detections with a score below ``min_score`` or a box of negative size are dropped first (as
    ``TensorsToDetectionsCalculator`` does). Then, until none is left: take the highest-scoring
    remaining detection; every remaining detection whose IoU with it exceeds ``iou_threshold``
    (itself included) is removed and merged into it: box corners and keypoints become their
    score-weighted mean, the score stays the top detection's. Ties in score keep the anchor
    order (MediaPipe's sort leaves them unspecified). At most ``max_detections`` are returned,
    best first (MediaPipe returns all of them; its pose graph then uses the first).

    Runs as a ``tf.while_loop``, eagerly or inside ``tf.function``.

    Args:
      boxes: float32 ``[A, 4]`` (xmin, ymin, xmax, ymax), or ``[N, A, 4]`` for a batch.
      keypoints: float32 ``[A, K, 2]`` (or ``[N, A, K, 2]``).
      scores: float32 ``[A]`` probabilities (or ``[N, A]``), e.g. from :func:`decode_detections`.
      max_detections: M, the fixed number of output slots.
    Returns:
      dict, with a leading ``N`` for a batch: ``boxes`` float32 ``[M, 4]``, ``keypoints``
      ``[M, K, 2]``, ``scores`` ``[M]`` (empty slots are zeros), ``valid`` bool ``[M]`` and
      ``count`` int32 ``[]``, the number of detections (the valid slots come first).
    Raises:
      ValueError: mismatched shapes or a ``max_detections`` below 1.
    """
    if (not isinstance(max_detections, int) or isinstance(max_detections, bool)
            or max_detections < 1):
        raise ValueError(f"max_detections must be a positive integer, got {max_detections!r}")
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    scores = tf.convert_to_tensor(scores, tf.float32)
    rank = scores.shape.rank
    if rank not in (1, 2) or boxes.shape.rank != rank + 1 or boxes.shape[-1] != 4:
        raise ValueError(f"expected boxes [A, 4] with scores [A] (or [N, A, 4] with [N, A]), got "
                         f"boxes {boxes.shape} and scores {scores.shape}")
    if keypoints.shape.rank != rank + 2 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must be [A, K, 2] (or [N, A, K, 2]), got {keypoints.shape}")
    if not (boxes.shape[:-1].is_compatible_with(scores.shape)
            and keypoints.shape[:-2].is_compatible_with(scores.shape)):
        raise ValueError(f"boxes {boxes.shape}, keypoints {keypoints.shape} and scores "
                         f"{scores.shape} disagree on the number of detections")

    def run(args):
        return _weighted_nms_single(*args, iou_threshold=iou_threshold, min_score=min_score,
                                    max_detections=max_detections)

    if rank == 1:
        return run((boxes, keypoints, scores))
    signature = {
        "boxes": tf.TensorSpec([max_detections, 4], tf.float32),
        "keypoints": tf.TensorSpec([max_detections, keypoints.shape[-2], 2], tf.float32),
        "scores": tf.TensorSpec([max_detections], tf.float32),
        "valid": tf.TensorSpec([max_detections], tf.bool),
        "count": tf.TensorSpec([], tf.int32),
    }
    return tf.map_fn(run, (boxes, keypoints, scores), fn_output_signature=signature)


def letterbox(image: tf.Tensor, size: int = DETECTOR_INPUT_SIZE, half_pixel_centers: bool = True
              ) -> tuple[tf.Tensor, tf.Tensor]:
    """Fits a whole image into a ``size x size`` square, aspect kept, centred, zero borders.

    MediaPipe's ``ImageToTensorCalculator`` with ``keep_aspect_ratio`` and ``BORDER_ZERO``: the
    image is scaled by ``size / max(H, W)`` with bilinear sampling (no antialiasing) and the
    shorter side is padded symmetrically. Values keep the input's range: the border is 0 in it,
    so normalise *after* letterboxing (for uint8 input, ``x / 127.5 - 1``) and the border becomes
    -1, as in MediaPipe, which pads the 0..255 image before converting it to [-1, 1].

    Args:
      image: ``[H, W, C]`` or ``[N, H, W, C]``, any real dtype (e.g. uint8 RGB).
      size: output side in pixels.
      half_pixel_centers: sample at pixel centres, so normalised coordinates map exactly onto
        the padded square. ``False`` reproduces MediaPipe's CPU (OpenCV) warp, which maps pixel
        *indices* 0 and ``size`` onto the square's edges (a shift of up to half a pixel).
    Returns:
      ``(letterboxed, padding)``: float32 ``[..., size, size, C]`` and float32 ``[4]``
      ``(left, top, right, bottom)`` border fractions of the output (shared by a batch).
    Raises:
      ValueError: an image that is not rank 3 or 4, or a ``size`` below 1.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    image = tf.convert_to_tensor(image)
    rank = image.shape.rank
    if rank not in (3, 4):
        raise ValueError(f"image must be [H, W, C] or [N, H, W, C], got shape {image.shape}")
    batch = image if rank == 4 else image[tf.newaxis]
    batch = tf.cast(batch, tf.float32)
    height = tf.cast(tf.shape(batch)[1], tf.float32)
    width = tf.cast(tf.shape(batch)[2], tf.float32)

    # MediaPipe's PadRoi for a square output: pad the shorter side.
    aspect = height / width
    vertical = tf.where(aspect < 1.0, (1.0 - aspect) / 2.0, 0.0)
    horizontal = tf.where(aspect < 1.0, 0.0, (1.0 - 1.0 / aspect) / 2.0)
    padding = tf.stack([horizontal, vertical, horizontal, vertical])

    # Output pixel index -> input pixel index, an axis-aligned affine map.
    side = tf.maximum(height, width)
    step = side / float(size)
    shift_x = -(side - width) / 2.0
    shift_y = -(side - height) / 2.0
    if half_pixel_centers:
        shift_x += 0.5 * step - 0.5
        shift_y += 0.5 * step - 0.5
    transform = tf.stack([step, 0.0, shift_x, 0.0, step, shift_y, 0.0, 0.0])[tf.newaxis]
    letterboxed = tf.raw_ops.ImageProjectiveTransformV3(
        images=batch, transforms=transform, output_shape=tf.constant([size, size], tf.int32),
        fill_value=tf.constant(0.0, tf.float32), interpolation="BILINEAR", fill_mode="CONSTANT")
    if rank == 3:
        letterboxed = letterboxed[0]
    return letterboxed, padding


def _unpad_points(points: tf.Tensor, padding: tf.Tensor) -> tf.Tensor:
    """``[..., 2]`` letterboxed (x, y) -> original image, for padding ``[4]`` or ``[N, 4]``."""
    left, top, right, bottom = tf.unstack(padding, axis=-1)
    offset = tf.stack([left, top], axis=-1)
    scale = tf.stack([1.0 - left - right, 1.0 - top - bottom], axis=-1)
    if padding.shape.rank == 2:  # one padding per batch element: [N, 1, ..., 1, 2]
        shape = tf.concat([tf.shape(padding)[:1], tf.ones([points.shape.rank - 2], tf.int32),
                           [2]], 0)
        offset = tf.reshape(offset, shape)
        scale = tf.reshape(scale, shape)
    return (points - offset) / scale


def remove_letterbox(detections: Mapping[str, tf.Tensor], padding: tf.Tensor) -> dict:
    """MediaPipe's ``DetectionLetterboxRemovalCalculator``: detector input -> original image.

    ``x' = (x - left) / (1 - left - right)``, ``y' = (y - top) / (1 - top - bottom)``, applied to
    box corners and keypoints (normalised coordinates).

    Args:
      detections: a dict as returned by :func:`decode_detections` or
        :func:`weighted_non_max_suppression`; ``boxes`` ``[..., 4]`` and ``keypoints``
        ``[..., K, 2]`` are mapped, other entries are passed through.
      padding: float32 ``[4]`` (left, top, right, bottom) from :func:`letterbox`, or ``[N, 4]``,
        one per element of a batch (the leading dimension of the detections).
    Returns:
      a new dict with the mapped ``boxes`` and ``keypoints``.
    Raises:
      ValueError: padding that is not ``[4]`` or ``[N, 4]``.
    """
    padding = tf.convert_to_tensor(padding, tf.float32)
    if padding.shape.rank not in (1, 2) or padding.shape[-1] != 4:
        raise ValueError(f"padding must be [4] or [N, 4] (left, top, right, bottom), got shape "
                         f"{padding.shape}")
    result = dict(detections)
    if "boxes" in detections:
        boxes = tf.convert_to_tensor(detections["boxes"], tf.float32)
        corners = tf.reshape(boxes, tf.concat([tf.shape(boxes)[:-1], [2, 2]], 0))
        corners = _unpad_points(corners, padding)
        result["boxes"] = tf.reshape(corners, tf.shape(boxes))
    if "keypoints" in detections:
        keypoints = tf.convert_to_tensor(detections["keypoints"], tf.float32)
        result["keypoints"] = _unpad_points(keypoints, padding)
    return result


def normalize_radians(angle: tf.Tensor) -> tf.Tensor:
    """MediaPipe's ``NormalizeRadians``: ``angle - 2 pi floor((angle + pi) / (2 pi))``.

    The result is in ``[-pi, pi)`` (an angle of exactly pi becomes -pi).
    """
    angle = tf.convert_to_tensor(angle, tf.float32)
    return angle - 2.0 * math.pi * tf.floor((angle + math.pi) / (2.0 * math.pi))


def detection_to_roi(keypoints: tf.Tensor, image_width, image_height,
                     scale: float = ROI_SCALE) -> dict:
    """The landmark network's crop from a detection (MediaPipe's ``PoseDetectionToRoi``).

    ``AlignmentPointsRectsCalculator`` (keypoints 0 and 1, target angle 90 degrees) then
    ``RectTransformationCalculator`` (``square_long``, scale 1.25), in pixels of the original
    image so that non-square images come out right:

    * centre = keypoint 0 (mid-hip);
    * side = 2 * |kp1 - kp0| pixels, a square, scaled by ``scale``: 2.5 * |kp1 - kp0|;
    * rotation = 90 deg - atan2(-(y1 - y0), x1 - x0), by :func:`normalize_radians` in
      ``[-pi, pi)``: 0 when kp1 is straight above kp0 (an upright person), +pi/2 when kp1 is to
      the right of kp0 (the crop is then rotated so that it is upright).

    Args:
      keypoints: float32 ``[..., K, 2]``, K >= 2, normalised to the original image (after
        :func:`remove_letterbox`).
      image_width, image_height: the original image's size in pixels (numbers or tensors
        broadcastable to ``[...]``).
      scale: MediaPipe's ``scale_x`` = ``scale_y``.
    Returns:
      dict of float32 ``[...]`` tensors: ``x_center``, ``y_center`` (normalised), ``width``
      (fraction of the image width), ``height`` (fraction of the image height), ``rotation``
      (radians, clockwise as seen on screen, as MediaPipe's ``NormalizedRect.rotation``: the
      crop's "up" points from its centre towards the rotated top edge, at the person's head).
    Raises:
      ValueError: fewer than 2 keypoints, or a non-positive image size.
    """
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    if keypoints.shape.rank is None or keypoints.shape.rank < 2 or keypoints.shape[-1] != 2 or (
            keypoints.shape[-2] is not None and keypoints.shape[-2] < 2):
        raise ValueError(f"keypoints must be [..., K, 2] with K >= 2, got shape "
                         f"{keypoints.shape}")
    for name, value in (("image_width", image_width), ("image_height", image_height)):
        if isinstance(value, int | float) and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    width = tf.cast(image_width, tf.float32)
    height = tf.cast(image_height, tf.float32)
    x0 = keypoints[..., 0, 0] * width
    y0 = keypoints[..., 0, 1] * height
    x1 = keypoints[..., 1, 0] * width
    y1 = keypoints[..., 1, 1] * height
    side = 2.0 * tf.sqrt(tf.square(x1 - x0) + tf.square(y1 - y0)) * scale  # pixels
    rotation = normalize_radians(ROI_TARGET_ANGLE - tf.atan2(-(y1 - y0), x1 - x0))
    return {
        "x_center": x0 / width,
        "y_center": y0 / height,
        "width": side / width,
        "height": side / height,
        "rotation": rotation,
    }
