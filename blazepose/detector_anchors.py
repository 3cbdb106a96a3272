"""The person detector's constants and anchors (MediaPipe's ``SsdAnchorsCalculator``), in numpy.

The detector (:func:`blazepose.model.detector.build_detector_model`, or Google's
``pose_detection.tflite``) outputs one box regressor and one score per anchor of
:func:`generate_anchors`. Its post-processing is the numpy runtime path: letterboxing in
:func:`blazepose.inference.geometry.letterbox_image`, decoding and weighted non-max suppression
in :mod:`blazepose.inference.postprocess`, the landmark network's crop in
:func:`blazepose.inference.geometry.roi_from_keypoints`; the thresholds below are MediaPipe's
``pose_detection_cpu.pbtxt`` and ``pose_detection_to_roi.pbtxt`` values they default to.

Anchors are normalised to the detector input: x, y in [0, 1], continuous (pixel ``i`` of a
W-pixel row spans ``[i / W, (i + 1) / W)``), x first.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

DETECTOR_INPUT_SIZE = 224
SCORE_CLIPPING_THRESHOLD = 100.0
MIN_SCORE = 0.5
MIN_SUPPRESSION_IOU = 0.3


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
                     with_sizes: bool = False) -> np.ndarray:
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
    return np.concatenate(per_grid, axis=0).astype(np.float32)
