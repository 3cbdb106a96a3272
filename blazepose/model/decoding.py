"""Decoding the landmark network's raw outputs, as TensorFlow ops (graph- and batch-friendly).

Coordinate conventions:

* Normalised crop coordinates: x, y in [0, 1] across the 256x256 crop, continuous, so that
  crop pixel ``i`` spans ``[i / 256, (i + 1) / 256)``. z uses the same scale as x (crop width = 1).
* Heatmap cells: cell ``(row, col)`` of a ``H x W`` heatmap spans ``[col / W, (col + 1) / W)``;
  :func:`decode_heatmap_argmax` reports the cell *centre*, ``(col + 0.5) / W``, plus offsets.
* MediaPipe's heatmap refinement (:func:`refine_landmarks_with_heatmap`) reproduces Google's
  calculator exactly, including its convention of reporting a window's weighted mean cell *index*
  divided by W (no half-cell shift), so that our pipeline's numbers match MediaPipe's.
"""

from __future__ import annotations

import tensorflow as tf

DEFAULT_INPUT_SIZE = 256


def decode_landmarks(landmarks: tf.Tensor, input_size: int = DEFAULT_INPUT_SIZE) -> tf.Tensor:
    """Raw ``[..., L, 5]`` (crop pixels and logits) -> normalised x, y, z and probabilities.

    Returns float32 ``[..., L, 5]``: x / size, y / size, z / size, sigmoid(visibility),
    sigmoid(presence).
    """
    landmarks = tf.convert_to_tensor(landmarks, tf.float32)
    xyz = landmarks[..., :3] / float(input_size)
    probabilities = tf.sigmoid(landmarks[..., 3:5])
    return tf.concat([xyz, probabilities], axis=-1)


def refine_landmarks_with_heatmap(landmarks: tf.Tensor, heatmap_logits: tf.Tensor,
                                  kernel_size: int = 7, min_confidence: float = 0.5) -> tf.Tensor:
    """MediaPipe's ``RefineLandmarksFromHeatmapCalculator`` as vectorised tensor ops.

    For each landmark, takes the ``kernel_size`` window of sigmoid(heatmap) around the cell
    ``(int(y * H), int(x * W))`` (truncation toward zero, window clipped at the borders); if the
    window's maximum is >= ``min_confidence``, x and y become the confidence-weighted mean cell
    column / W and row / H. Landmarks whose cell is outside the heatmap are left as they are
    (MediaPipe since July 2023, both wheels we compare with; the older calculator tested the
    column, not the row, against H).

    Args:
      landmarks: float32 ``[N, L, D]``, D >= 2, normalised x, y first (see
        :func:`decode_landmarks`). Other columns pass through.
      heatmap_logits: float32 ``[N, H, W, L]`` raw logits.
    Returns:
      float32 ``[N, L, D]`` with refined x, y.
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
    landmarks = tf.convert_to_tensor(landmarks, tf.float32)
    heatmap_logits = tf.convert_to_tensor(heatmap_logits, tf.float32)
    height = tf.shape(heatmap_logits)[1]
    width = tf.shape(heatmap_logits)[2]
    width_f = tf.cast(width, tf.float32)
    height_f = tf.cast(height, tf.float32)

    # int() in C++ truncates toward zero; tf.cast from float to int does the same.
    center_col = tf.cast(landmarks[..., 0] * width_f, tf.int32)  # [N, L]
    center_row = tf.cast(landmarks[..., 1] * height_f, tf.int32)
    inside = ((center_col >= 0) & (center_col < width) & (center_row >= 0)
              & (center_row < height))
    half = (kernel_size - 1) // 2

    def window_mask(center, size):  # [N, L] -> [N, L, size] bool
        positions = tf.range(size)[tf.newaxis, tf.newaxis, :]
        center = center[..., tf.newaxis]
        return (positions >= center - half) & (positions <= center + half)

    row_mask = tf.cast(window_mask(center_row, height), tf.float32)  # [N, L, H]
    col_mask = tf.cast(window_mask(center_col, width), tf.float32)  # [N, L, W]
    confidence = tf.transpose(tf.sigmoid(heatmap_logits), [0, 3, 1, 2])  # [N, L, H, W]
    weights = confidence * row_mask[..., :, tf.newaxis] * col_mask[..., tf.newaxis, :]

    total = tf.reduce_sum(weights, axis=[-2, -1])
    peak = tf.reduce_max(weights, axis=[-2, -1])
    rows = tf.cast(tf.range(height), tf.float32)
    cols = tf.cast(tf.range(width), tf.float32)
    weighted_row = tf.reduce_sum(weights * rows[:, tf.newaxis], axis=[-2, -1])
    weighted_col = tf.reduce_sum(weights * cols[tf.newaxis, :], axis=[-2, -1])

    refine = inside & (peak >= min_confidence) & (total > 0)
    safe_total = tf.where(total > 0, total, tf.ones_like(total))
    new_x = tf.where(refine, weighted_col / width_f / safe_total, landmarks[..., 0])
    new_y = tf.where(refine, weighted_row / height_f / safe_total, landmarks[..., 1])
    return tf.concat([new_x[..., tf.newaxis], new_y[..., tf.newaxis], landmarks[..., 2:]],
                     axis=-1)


def decode_heatmap_argmax(heatmap_logits: tf.Tensor, offsets: tf.Tensor | None = None
                          ) -> tuple[tf.Tensor, tf.Tensor]:
    """Argmax heatmap decoding, optionally refined by offset maps.

    Args:
      heatmap_logits: float32 ``[N, H, W, L]``.
      offsets: optional float32 ``[N, H, W, 2L]``: per landmark an (x, y) offset in heatmap cells,
        interleaved (channel ``2l`` is x of landmark ``l``, ``2l + 1`` its y), read at the peak.
    Returns:
      ``(xy, confidence)``: float32 ``[N, L, 2]`` normalised coordinates of the peak cell centre
      plus its offset, and float32 ``[N, L]`` sigmoid of the peak logit.
    """
    heatmap_logits = tf.convert_to_tensor(heatmap_logits, tf.float32)
    shape = tf.shape(heatmap_logits)
    batch, height, width, count = shape[0], shape[1], shape[2], shape[3]
    flat = tf.reshape(tf.transpose(heatmap_logits, [0, 3, 1, 2]), [batch, count, height * width])
    index = tf.argmax(flat, axis=-1, output_type=tf.int32)  # [N, L]
    peak = tf.reduce_max(flat, axis=-1)
    row = index // width
    col = index % width
    xy_cells = tf.cast(tf.stack([col, row], axis=-1), tf.float32) + 0.5
    if offsets is not None:
        offsets = tf.convert_to_tensor(offsets, tf.float32)
        offsets = tf.reshape(offsets, [batch, height, width, count, 2])
        batch_index = tf.broadcast_to(tf.range(batch)[:, tf.newaxis], tf.shape(row))
        landmark_index = tf.broadcast_to(tf.range(count)[tf.newaxis, :], tf.shape(row))
        gather_at = tf.stack([batch_index, row, col, landmark_index], axis=-1)
        xy_cells += tf.gather_nd(offsets, gather_at)
    size = tf.cast(tf.stack([width, height]), tf.float32)
    return xy_cells / size, tf.sigmoid(peak)


def decode_outputs(outputs: dict, refine: bool = True, input_size: int = DEFAULT_INPUT_SIZE
                   ) -> dict:
    """The decoding MediaPipe applies after the landmark network, for a batch.

    Returns a dict with ``landmarks`` float32 ``[N, L, 5]`` (normalised x, y, z, visibility and
    presence probabilities; x, y refined by the heatmap when ``refine``), ``world_landmarks``
    ``[N, L, 3]`` (metres, unchanged) and ``pose_flag`` ``[N]``.
    """
    landmarks = decode_landmarks(outputs["landmarks"], input_size)
    if refine:
        landmarks = refine_landmarks_with_heatmap(landmarks, outputs["heatmap"])
    return {
        "landmarks": landmarks,
        "world_landmarks": tf.convert_to_tensor(outputs["world_landmarks"], tf.float32),
        "pose_flag": tf.reshape(tf.convert_to_tensor(outputs["pose_flag"], tf.float32), [-1]),
    }
