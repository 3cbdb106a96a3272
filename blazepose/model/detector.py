"""The BlazePose person detector as a Keras 3 functional model.

Op for op the graph of Google's ``pose_detection.tflite`` (see
``shared/reference/MEDIAPIPE_BLAZEPOSE.md`` and ``pose_detection.graph.compact.txt``): a MobileNetV2
style encoder down to 7x7, a small top-down decoder back to 28x28, and SSD heads on three grids.

* Encoder: explicit symmetric padding + VALID before every stride-2 layer (the stem conv and each
  stride-2 depthwise), ReLU6 fused where Google's graph fuses it; linear 1x1 projections.
* Lateral taps at 28x28 and 14x14: depthwise 3x3 *without* activation, then 1x1 conv + ReLU6.
* Trunk ``T`` at 7x7x1152: 1x1 expansion + ReLU6, depthwise 3x3 + ReLU6.
* Decoder, twice (7 -> 14 -> 28): bilinear 2x upsampling (half-pixel centres), 1x1 conv + ReLU6,
  plain add of the lateral tap, then two residual blocks (depthwise 3x3 without activation,
  linear 1x1, add the block input, ReLU6).
* Heads: ``DepthToSpace(2)`` of the trunk (-> 14x14x288), of the 14x14 decoder output
  (-> 28x28x48) and of the 28x28 decoder output (-> 56x56x24); each padded by 1 and read by two
  stride-2 VALID depthwise convs without activation (one for scores, one for boxes), each followed
  by a linear 1x1 conv. The 56/28/14-pixel head inputs therefore predict on 28x28, 14x14 and 7x7
  grids with 2, 2 and 6 anchors per cell.

Layer names are stable; a weight importer matches them with Google's graph. Name prefixes:

* ``stem_*``, ``enc{56,28,14,7}_b{i}_*`` (``_expand``, ``_dw_pad``, ``_dw``, ``_project``,
  ``_add``): the encoder; ``trunk_*``: the 7x7 trunk;
* ``tap{28,14}_*``: lateral taps; ``dec{14,28}_*`` (``_up``, ``_conv``, ``_add``, ``_rb{i}_*``):
  the decoder;
* ``head{28,14,7}_*`` (``_d2s``, ``_pad``, ``_{scores,boxes}_{dw,conv,reshape}``): the SSD heads on
  the 28x28, 14x14 and 7x7 anchor grids; ``scores`` and ``boxes``: the concatenated outputs.
"""

from __future__ import annotations

import keras
from keras import layers

from blazepose.model.architecture import InvertedResidual
from blazepose.model.blocks import conv1x1, depthwise, inverted_residual, residual_block, tap
from blazepose.model.layers import DepthToSpace

INPUT_SIZE = 224
NUM_ANCHORS = 2254  # 28*28*2 + 14*14*2 + 7*7*6
NUM_KEYPOINTS = 4  # mid-hip, full-body size/rotation point, mid-shoulder, upper-body point
BOX_DIMS = 4 + 2 * NUM_KEYPOINTS  # xc, yc, w, h, then x, y of each keypoint (224-pixel units)
OUTPUT_KEYS = ("boxes", "scores")

# Encoder stages named by their output resolution; each starts with its stride-2 block.
ENCODER_STAGES: tuple[tuple[int, tuple[InvertedResidual, ...]], ...] = (
    (56, (InvertedResidual(64, 3, 24, 2), InvertedResidual(144, 3, 24))),
    (28, (InvertedResidual(144, 5, 40, 2), InvertedResidual(240, 5, 40))),
    (14, (InvertedResidual(240, 3, 80, 2),) + (InvertedResidual(480, 3, 80),) * 2
     + (InvertedResidual(480, 5, 112),) + (InvertedResidual(672, 5, 112),) * 2),
    (7, (InvertedResidual(672, 5, 192, 2),) + (InvertedResidual(1152, 5, 192),) * 3),
)
STEM_CHANNELS = 24
STEM_OUTPUT_CHANNELS = 16
TRUNK_CHANNELS = 1152
# Lateral tap / decoder width at each decoder resolution.
DECODER_CHANNELS = {14: 192, 28: 96}
DECODER_RESIDUAL_BLOCKS = 2
# (grid size, anchors per cell) of each head, in the order of the outputs.
HEAD_GRIDS = ((28, 2), (14, 2), (7, 6))


def _decoder_stage(x, lateral, resolution: int):
    """Bilinear 2x up, 1x1 conv + ReLU6, plain add of the lateral tap, residual blocks."""
    name = f"dec{resolution}"
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
    x = conv1x1(x, DECODER_CHANNELS[resolution], f"{name}_conv", "relu6")
    x = layers.Add(name=f"{name}_add")([lateral, x])
    for index in range(DECODER_RESIDUAL_BLOCKS):
        x = residual_block(x, f"{name}_rb{index}", depthwise_activation=None)
    return x


def _head(x, grid: int, anchors_per_cell: int):
    """SSD head on a ``grid x grid`` anchor grid from a feature map at twice its resolution.

    Returns ``(scores [N, grid*grid*A, 1], boxes [N, grid*grid*A, 12])``, flattened row-major over
    the grid with the A anchors of a cell consecutive (TFLite's RESHAPE of NHWC).
    """
    name = f"head{grid}"
    x = DepthToSpace(2, name=f"{name}_d2s")(x)
    x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    outputs = []
    for kind, dims in (("scores", 1), ("boxes", BOX_DIMS)):
        y = layers.DepthwiseConv2D(3, strides=2, padding="valid", name=f"{name}_{kind}_dw")(x)
        y = conv1x1(y, anchors_per_cell * dims, f"{name}_{kind}_conv")
        outputs.append(layers.Reshape((grid * grid * anchors_per_cell, dims),
                                      name=f"{name}_{kind}_reshape")(y))
    return outputs


def build_detector_model(name: str | None = None) -> keras.Model:
    """Builds the person detector, layer for layer Google's ``pose_detection.tflite``.

    Input ``image``: float32 ``[N, 224, 224, 3]``, RGB in [-1, 1], the whole image letterboxed
    (see :func:`blazepose.inference.geometry.letterbox_image`).

    Outputs (a dict of raw tensors, exactly as Google's file computes them), over the 2254 anchors
    of :func:`blazepose.detector_anchors.generate_anchors` in the same order (28x28x2, then 14x14x2,
    then 7x7x6; row-major over each grid, the anchors of a cell consecutive):
      ``boxes``: float32 ``[N, 2254, 12]`` regressors ``[xc, yc, w, h, kp0x, kp0y, ..., kp3x,
        kp3y]`` in 224-pixel units, centres and keypoints relative to the anchor centre
        (Google's output ``Identity``).
      ``scores``: float32 ``[N, 2254, 1]`` person logits (Google's ``Identity_1``).

    Decode them with :func:`blazepose.inference.postprocess.decode_detections`. The model has
    2,965,314 parameters, the weight total of Google's file.
    """
    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")

    # Stem: 224 -> 112.
    x = layers.ZeroPadding2D(1, name="stem_pad")(image)
    x = layers.Conv2D(STEM_CHANNELS, 3, strides=2, padding="valid", activation="relu6",
                      name="stem_conv")(x)
    x = depthwise(x, 3, "stem_dw")
    x = conv1x1(x, STEM_OUTPUT_CHANNELS, "stem_project")

    # Encoder: 112 -> 56 -> 28 -> 14 -> 7, lateral taps on the 28x28 and 14x14 outputs.
    laterals = {}
    for resolution, blocks in ENCODER_STAGES:
        for index, block in enumerate(blocks):
            x = inverted_residual(x, block, f"enc{resolution}_b{index}")
        if resolution in DECODER_CHANNELS:
            laterals[resolution] = tap(x, DECODER_CHANNELS[resolution], f"tap{resolution}",
                                      depthwise_activation=None)
    x = conv1x1(x, TRUNK_CHANNELS, "trunk_expand", "relu6")
    trunk = depthwise(x, 3, "trunk_dw")

    # Decoder: 7 -> 14 -> 28.
    features_14 = _decoder_stage(trunk, laterals[14], 14)
    features_28 = _decoder_stage(features_14, laterals[28], 28)

    # Heads, in output order: 28x28 grid (from features_28), 14x14 (features_14), 7x7 (trunk).
    head_inputs = {28: features_28, 14: features_14, 7: trunk}
    scores, boxes = [], []
    for grid, anchors_per_cell in HEAD_GRIDS:
        head_scores, head_boxes = _head(head_inputs[grid], grid, anchors_per_cell)
        scores.append(head_scores)
        boxes.append(head_boxes)
    outputs = {
        "boxes": layers.Concatenate(axis=1, name="boxes")(boxes),
        "scores": layers.Concatenate(axis=1, name="scores")(scores),
    }
    return keras.Model(image, outputs, name=name or "blazepose_detector")
