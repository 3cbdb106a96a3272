"""Per-frame decoding of the two networks' raw outputs, in numpy.

The person detector's decoding and weighted non-max suppression (MediaPipe's
``TensorsToDetectionsCalculator`` and ``NonMaxSuppressionCalculator`` with the pose detector's
options) live only here; tests check them against a plain-loop transcription of MediaPipe's
algorithm. The landmark decoding is the numpy twin of :mod:`blazepose.model.decoding` (which
serves graphs and batches; tests check both give the same numbers): on one frame at a time numpy
costs microseconds where eager TensorFlow costs milliseconds, and it keeps TensorFlow's thread
pool out of the way of the TFLite interpreter.

Detections are normalised to the detector input: boxes ``(xmin, ymin, xmax, ymax)``, keypoints
``[K, 2]`` (x, y) with K = 4: 0 mid-hip, 1 a point fixing full-body size and rotation, 2
mid-shoulder, 3 a point fixing upper-body size and rotation.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from blazepose import detector_anchors as detection

HEATMAP_KERNEL_SIZE = 7
HEATMAP_MIN_CONFIDENCE = 0.5


@functools.cache
def detector_anchors() -> np.ndarray:
    """float32 ``[2254, 2]`` (x, y) anchor centres of the pose detector (all of size 1)."""
    return np.asarray(detection.generate_anchors(), np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Overflow-free logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclasses.dataclass(frozen=True)
class Detection:
    """The best detection of a frame, normalised to the detector input (before the letterbox is
    removed) or to the image (after).

    Attributes:
      box: float64 ``[4]`` (xmin, ymin, xmax, ymax).
      keypoints: float64 ``[4, 2]`` (x, y): mid-hip, full-body scale point, mid-shoulder,
        upper-body scale point.
      score: probability of the top detection.
    """

    box: np.ndarray
    keypoints: np.ndarray
    score: float


def decode_detections(boxes: np.ndarray, scores: np.ndarray, anchors: np.ndarray | None = None,
                      input_size: float = detection.DETECTOR_INPUT_SIZE,
                      score_clipping_threshold: float = detection.SCORE_CLIPPING_THRESHOLD
                      ) -> dict[str, np.ndarray]:
    """MediaPipe's ``TensorsToDetectionsCalculator`` with the pose detector's options.

    Box regressors are ``[xc, yc, w, h, kp0x, kp0y, ...]`` in ``input_size`` pixel units:
    centre = value / input_size * anchor size + anchor centre, keypoints likewise, w and h =
    value / input_size * anchor size (no exponential). Scores: sigmoid of the logit clipped to
    ``[-score_clipping_threshold, score_clipping_threshold]``. Nothing is filtered here.

    Args:
      boxes: float ``[..., A, 4 + 2K]`` raw regressors (the detector's ``boxes``).
      scores: float ``[..., A, 1]`` raw logits (the detector's ``scores``).
      anchors: float ``[A, 2]`` centres (sizes 1) or ``[A, 4]`` (x, y, w, h), normalised, from
        :func:`blazepose.detector_anchors.generate_anchors`; default the pose detector's.
      input_size: the detector's input side in pixels (MediaPipe's x/y/w/h scales).
    Returns:
      float64 arrays normalised to the detector input: ``boxes [..., A, 4]`` (xmin, ymin, xmax,
      ymax), ``keypoints [..., A, K, 2]`` (x, y), ``scores [..., A]`` probabilities.
    Raises:
      ValueError: shapes that do not fit together, or a non-positive ``input_size``.
    """
    boxes = np.asarray(boxes, np.float32)
    scores = np.asarray(scores, np.float32)
    anchors = detector_anchors() if anchors is None else np.asarray(anchors, np.float32)
    if input_size <= 0:
        raise ValueError(f"input_size must be positive, got {input_size}")
    if boxes.ndim < 2 or boxes.shape[-1] < 4 or (boxes.shape[-1] - 4) % 2:
        raise ValueError(f"boxes must be [..., A, 4 + 2K] (xc, yc, w, h, then keypoints x, y), "
                         f"got shape {boxes.shape}")
    if scores.shape != boxes.shape[:-1] + (1,):
        raise ValueError(f"scores must be [..., A, 1] logits matching boxes {boxes.shape}, got "
                         f"shape {scores.shape}")
    if anchors.ndim != 2 or anchors.shape[-1] not in (2, 4):
        raise ValueError(f"anchors must be [A, 2] centres or [A, 4] (x, y, w, h), got shape "
                         f"{anchors.shape}")
    if len(anchors) != boxes.shape[-2]:
        raise ValueError(f"boxes has {boxes.shape[-2]} anchors but anchors has {len(anchors)}")
    raw = boxes.astype(np.float64) / float(input_size)
    centres = anchors[:, :2].astype(np.float64)
    sizes = anchors[:, 2:4].astype(np.float64) if anchors.shape[-1] == 4 else np.ones_like(
        centres)
    centre = raw[..., 0:2] * sizes + centres
    half = raw[..., 2:4] * sizes / 2.0
    keypoints = raw[..., 4:].reshape(raw.shape[:-1] + ((raw.shape[-1] - 4) // 2, 2))
    keypoints = keypoints * sizes[:, None, :] + centres[:, None, :]
    logits = np.clip(scores[..., 0], -score_clipping_threshold, score_clipping_threshold)
    return {"boxes": np.concatenate([centre - half, centre + half], axis=-1),
            "keypoints": keypoints,
            "scores": _sigmoid(logits.astype(np.float64))}


def _decode_candidates(boxes: np.ndarray, scores: np.ndarray, anchors: np.ndarray | None,
                       input_size: int, min_score: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw detector outputs of one image -> the detections kept for suppression, in anchor
    order.

    Returns float64 ``corners [D, 4]`` (xmin, ymin, xmax, ymax), ``keypoints [D, K, 2]`` and
    ``probabilities [D]``, normalised to the detector input: scores of at least ``min_score``
    and boxes of non-negative size only (D may be 0).
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, np.shape(boxes)[-1])
    logits = np.asarray(scores, np.float32).reshape(-1, 1)
    anchors = detector_anchors() if anchors is None else np.asarray(anchors, np.float32)
    if not (len(boxes) == len(logits) == len(anchors)):
        raise ValueError(f"{len(boxes)} boxes, {len(logits)} scores and {len(anchors)} anchors")
    # Only the confident anchors are decoded: the rest would be dropped anyway.
    clipped = np.clip(logits[:, 0], -detection.SCORE_CLIPPING_THRESHOLD,
                      detection.SCORE_CLIPPING_THRESHOLD)
    candidates = np.flatnonzero(_sigmoid(clipped.astype(np.float64)) >= min_score)
    decoded = decode_detections(boxes[candidates], logits[candidates], anchors[candidates],
                                input_size)
    corners, keypoints, probabilities = decoded["boxes"], decoded["keypoints"], decoded["scores"]
    valid = (corners[:, 2] >= corners[:, 0]) & (corners[:, 3] >= corners[:, 1])
    return corners[valid], keypoints[valid], probabilities[valid]


def _merge_around(top: int, corners: np.ndarray, keypoints: np.ndarray,
                  probabilities: np.ndarray, iou_threshold: float
                  ) -> tuple[Detection, np.ndarray]:
    """Weighted NMS step: detection ``top`` merged with every detection whose IoU with it
    exceeds ``iou_threshold`` (score-weighted mean of boxes and keypoints, ``top``'s score).

    Returns the merged :class:`Detection` and the bool ``[D]`` mask of the detections merged
    (empty only for a degenerate ``top`` box, whose IoU with itself is 0).
    """
    overlap = np.maximum(np.minimum(corners[top, 2:], corners[:, 2:])
                         - np.maximum(corners[top, :2], corners[:, :2]), 0.0)
    intersection = overlap[:, 0] * overlap[:, 1]
    areas = (np.maximum(corners[:, 2] - corners[:, 0], 0.0)
             * np.maximum(corners[:, 3] - corners[:, 1], 0.0))
    union = areas[top] + areas - intersection
    iou = np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)
    merge = iou > iou_threshold
    weights = np.where(merge, probabilities, 0.0)
    total = weights.sum()
    if merge.any() and total > 0:
        box = weights @ corners / total
        points = np.tensordot(weights, keypoints, axes=1) / total
    else:
        box, points = corners[top], keypoints[top]
    return Detection(box=box, keypoints=points, score=float(probabilities[top])), merge


def best_detection(boxes: np.ndarray, scores: np.ndarray, anchors: np.ndarray | None = None,
                   input_size: int = detection.DETECTOR_INPUT_SIZE,
                   min_score: float = detection.MIN_SCORE,
                   iou_threshold: float = detection.MIN_SUPPRESSION_IOU) -> Detection | None:
    """The first output of MediaPipe's decoding + weighted non-max suppression, or None.

    Decoding as :func:`decode_detections` (values / input size + anchor centre, sigmoid of the
    clipped logit); detections below ``min_score`` or with a box of negative size are dropped;
    the highest-scoring one is merged with every remaining detection whose IoU with it exceeds
    ``iou_threshold`` (score-weighted mean of boxes and keypoints, its own score kept): the first
    output of MediaPipe's weighted NMS, which is all the pose graph uses. :func:`all_detections`
    returns every output.

    Args:
      boxes: float ``[A, 4 + 2K]`` or ``[1, A, 4 + 2K]`` raw regressors.
      scores: float ``[A, 1]`` / ``[1, A, 1]`` / ``[A]`` raw logits.
      anchors: ``[A, 2]`` centres; default the pose detector's.
    """
    corners, keypoints, probabilities = _decode_candidates(boxes, scores, anchors, input_size,
                                                           min_score)
    if len(probabilities) == 0:
        return None
    # Stable order: ties keep the anchor order, as MediaPipe's.
    top = int(np.argsort(-probabilities, kind="stable")[0])
    return _merge_around(top, corners, keypoints, probabilities, iou_threshold)[0]


def all_detections(boxes: np.ndarray, scores: np.ndarray, anchors: np.ndarray | None = None,
                   input_size: int = detection.DETECTOR_INPUT_SIZE,
                   min_score: float = detection.MIN_SCORE,
                   iou_threshold: float = detection.MIN_SUPPRESSION_IOU) -> list[Detection]:
    """Every output of MediaPipe's decoding + weighted non-max suppression, best first.

    Decoding and the merge as :func:`best_detection`; then, until no detection is left: the
    highest-scoring remaining one (ties in anchor order) absorbs every remaining detection whose
    IoU with it exceeds ``iou_threshold`` (itself included), and they are all removed; a top
    detection that absorbs nothing (a zero-area box) is returned and ends the loop, as in
    MediaPipe. The first element is :func:`best_detection`'s result.

    Args: as :func:`best_detection`.
    Returns:
      :class:`Detection` objects (box, keypoints normalised to the detector input), by
      decreasing score; empty when nothing scores ``min_score``.
    """
    corners, keypoints, probabilities = _decode_candidates(boxes, scores, anchors, input_size,
                                                           min_score)
    found = []
    while len(probabilities):
        top = int(np.argsort(-probabilities, kind="stable")[0])
        merged, taken = _merge_around(top, corners, keypoints, probabilities, iou_threshold)
        found.append(merged)
        if not taken.any():
            break
        keep = ~taken
        corners, keypoints, probabilities = corners[keep], keypoints[keep], probabilities[keep]
    return found


def decode_landmarks(raw_landmarks: np.ndarray, input_size: int) -> np.ndarray:
    """Raw ``[L, 5]`` (crop pixels and logits) -> float64 ``[L, 5]``: u, v, z normalised to the
    crop (divided by ``input_size``), sigmoid(visibility), sigmoid(presence)."""
    raw = np.asarray(raw_landmarks, np.float64).reshape(-1, 5)
    decoded = np.empty_like(raw)
    decoded[:, :3] = raw[:, :3] / input_size
    decoded[:, 3:] = _sigmoid(raw[:, 3:])
    return decoded


def refine_with_heatmap(landmarks: np.ndarray, heatmap_logits: np.ndarray,
                        kernel_size: int = HEATMAP_KERNEL_SIZE,
                        min_confidence: float = HEATMAP_MIN_CONFIDENCE) -> np.ndarray:
    """MediaPipe's ``RefineLandmarksFromHeatmapCalculator`` for one crop.

    For landmark ``l`` at crop-normalised ``(u, v)``: the ``kernel_size`` window of
    ``sigmoid(heatmap[..., l])`` around cell ``(int(v * H), int(u * W))`` (truncated toward zero,
    clipped at the borders); if its maximum is >= ``min_confidence``, u and v become the
    confidence-weighted mean column / W and row / H. Landmarks whose cell is outside the
    heatmap are kept.
    Same numbers as :func:`blazepose.model.decoding.refine_landmarks_with_heatmap`.

    Args:
      landmarks: ``[L, D]``, u and v first.
      heatmap_logits: ``[H, W, L]`` (or ``[1, H, W, L]``).
    Returns:
      a float64 copy of ``landmarks`` with refined u, v.
    """
    heatmap = np.asarray(heatmap_logits)
    if heatmap.ndim == 4:
        heatmap = heatmap[0]
    height, width, count = heatmap.shape
    result = np.array(landmarks, np.float64, copy=True)
    if count < len(result):
        raise ValueError(f"heatmap has {count} channels for {len(result)} landmarks")
    half = (kernel_size - 1) // 2
    u = result[:, 0] * width
    v = result[:, 1] * height
    # Also rejects NaN; keeps int() below far from overflow.
    candidate = (u > -1) & (u < width) & (v > -1) & (v < height)
    col = np.where(candidate, u, 0).astype(np.int64)  # truncation toward zero, as C++'s int()
    row = np.where(candidate, v, 0).astype(np.int64)
    candidate &= (col >= 0) & (col < width) & (row >= 0) & (row < height)
    index = np.flatnonzero(candidate)
    if index.size == 0:
        return result
    # The windows of all landmarks at once; cells outside the heatmap get zero confidence, so
    # they add nothing to the sums and cannot be the maximum (min_confidence > 0).
    offsets = np.arange(-half, half + 1)
    rows = row[index, None, None] + offsets[None, :, None]  # [N, k, 1]
    cols = col[index, None, None] + offsets[None, None, :]  # [N, 1, k]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    logits = heatmap[np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1),
                     index[:, None, None]]
    windows = np.where(inside, _sigmoid(logits.astype(np.float64)), 0.0)
    total = windows.sum(axis=(1, 2))
    peak = windows.max(axis=(1, 2))
    cell_rows = rows.astype(np.float64)
    cell_cols = cols.astype(np.float64)
    refine = (peak >= min_confidence) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    new_u = (windows * cell_cols).sum(axis=(1, 2)) / width / safe
    new_v = (windows * cell_rows).sum(axis=(1, 2)) / height / safe
    chosen = index[refine]
    result[chosen, 0] = new_u[refine]
    result[chosen, 1] = new_v[refine]
    return result
