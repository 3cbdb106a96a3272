"""The BlazePose landmark network as a Keras 3 functional model.

Layer for layer the graph of Google's ``pose_landmark_full.tflite`` (see
``shared/reference/MEDIAPIPE_BLAZEPOSE.md``): ReLU6 everywhere, BatchNorm folded into biases,
explicit symmetric padding before every stride-2 layer of the encoder, a decoder with lateral taps,
a segmentation head, and a regression branch that reads the 8x8 trunk only.

Layer names are stable; they are how pretrained weights are imported and how training phases
freeze parts of the network. Name prefixes:

* ``stem_*``, ``enc{64,32,16,8}_b{i}_*``, ``trunk_*``: the shared encoder (feature ``T``);
* ``tap{128,64,32,16}_*``, ``dec_*``: the decoder producing the 64x64 feature ``F``;
* ``heatmap``, ``offsets``: heads on ``F``; ``seg_*``: the segmentation head;
* ``reg_*``: the regression branch and its heads ``reg_landmarks``, ``reg_world``, ``reg_flag``.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from blazepose import topology
from blazepose.model import architecture as arch_lib
from blazepose.model.blocks import conv1x1, depthwise, inverted_residual, residual_block, tap
from blazepose.model.layers import StopGradient

INPUT_SIZE = 256
HEATMAP_SIZE = 64
LANDMARK_DIMS = 5  # x, y, z (crop pixels), visibility logit, presence logit
WORLD_DIMS = 3
OUTPUT_KEYS = ("landmarks", "world_landmarks", "pose_flag", "heatmap", "segmentation")

# Names of the layer groups, used by phases that freeze or stop gradients.
REGRESSION_PREFIX = "reg_"


@dataclasses.dataclass(frozen=True)
class LandmarkModelConfig:
    """Everything that decides the landmark network's weights and outputs.

    Attributes:
      variant: ``lite``, ``full`` (Google's BlazePose Full) or ``heavy``.
      num_keypoints: K, body keypoints the heads predict (33 for BlazePose's layout).
      num_extra_landmarks: extra outputs after the K keypoints. Google's file has 6 (two
        auxiliary ROI points used for tracking, 33 and 34, and four unused). ``None`` means 6 when
        K == 33 and 0 otherwise.
      offset_head: adds an ``offsets`` output, ``[N, 64, 64, 2 * (K + extra)]`` (x, y offsets per
        landmark, interleaved) for argmax + offset heatmap decoding.
      stop_regression_gradient: the regression branch does not back-propagate into the trunk.
    """

    variant: str = "full"
    num_keypoints: int = topology.NUM_BLAZEPOSE_LANDMARKS
    num_extra_landmarks: int | None = None
    offset_head: bool = False
    stop_regression_gradient: bool = False

    def __post_init__(self):
        arch_lib.get_architecture(self.variant)  # raises ValueError for an unknown variant
        if (not isinstance(self.num_keypoints, int) or isinstance(self.num_keypoints, bool)
                or self.num_keypoints < 1):
            raise ValueError(
                f"num_keypoints must be a positive integer, got {self.num_keypoints!r}")
        if self.num_extra_landmarks is not None and (
                not isinstance(self.num_extra_landmarks, int) or self.num_extra_landmarks < 0):
            raise ValueError(f"num_extra_landmarks must be an integer >= 0 or None, got "
                             f"{self.num_extra_landmarks!r}")

    @property
    def extra_landmarks(self) -> int:
        if self.num_extra_landmarks is not None:
            return self.num_extra_landmarks
        if self.num_keypoints == topology.NUM_BLAZEPOSE_LANDMARKS:
            return topology.NUM_MODEL_OUTPUT_LANDMARKS - topology.NUM_BLAZEPOSE_LANDMARKS
        return 0

    @property
    def num_outputs(self) -> int:
        """Landmarks per output head: K plus the extra landmarks (39 for Google's layout)."""
        return self.num_keypoints + self.extra_landmarks


def _downsample_block(x, name):
    """Regression branch 2x downsampling: [dw3x3 s2 'same' + 1x1] + maxpool(x), add, ReLU6."""
    y = depthwise(x, 3, f"{name}_dw", stride=2, explicit_pad=False)
    y = conv1x1(y, x.shape[-1], f"{name}_conv")
    pooled = layers.MaxPooling2D(2, strides=2, padding="valid", name=f"{name}_pool")(x)
    y = layers.Add(name=f"{name}_add")([pooled, y])
    return layers.Activation("relu6", name=f"{name}_relu6")(y)


def _upsample_add(x, lateral, name):
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
    return layers.Add(name=f"{name}_add")([x, lateral])


def build_landmark_model(config: LandmarkModelConfig | None = None, name: str | None = None
                         ) -> keras.Model:
    """Builds the landmark network.

    Input ``image``: float32 ``[N, 256, 256, 3]``, RGB in [0, 1], an upright square person crop.

    Outputs (a dict; raw, exactly as Google's file computes them), with L = K + extra landmarks:
      ``landmarks``: ``[N, L, 5]`` x, y, z in crop pixels (0..256), visibility and presence logits.
      ``world_landmarks``: ``[N, L, 3]`` metres, hip-centred.
      ``pose_flag``: ``[N, 1]`` probability that a person is in the crop (after a sigmoid).
      ``heatmap``: ``[N, 64, 64, L]`` logits.
      ``segmentation``: ``[N, 256, 256, 1]`` logits.
      ``offsets`` (only with ``offset_head``): ``[N, 64, 64, 2L]`` heatmap-cell offsets.
    """
    config = config or LandmarkModelConfig()
    spec = arch_lib.get_architecture(config.variant)
    num_out = config.num_outputs

    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")

    # Encoder.
    x = layers.ZeroPadding2D(1, name="stem_pad")(image)
    x = layers.Conv2D(spec.stem_channels, 3, strides=2, padding="valid", activation="relu6",
                      name="stem_conv")(x)
    x = depthwise(x, 3, "stem_dw")
    feature_128 = conv1x1(x, spec.stem_output_channels, "stem_project")
    laterals = {128: tap(feature_128, spec.segmentation_channels, "tap128")}
    x = feature_128
    for stage, resolution in zip(spec.stages, (64, 32, 16, 8)):
        for index, block in enumerate(stage):
            x = inverted_residual(x, block, f"enc{resolution}_b{index}")
        if resolution > 8:
            laterals[resolution] = tap(x, spec.decoder_channels, f"tap{resolution}")
    x = conv1x1(x, spec.trunk_channels, "trunk_expand", "relu6")
    trunk = depthwise(x, 3, "trunk_dw")

    # Decoder: 8 -> 64 with lateral taps; plain adds, no activation after them.
    x = tap(trunk, spec.decoder_channels, "dec8")
    for resolution in (16, 32, 64):
        x = _upsample_add(x, laterals[resolution], f"dec{resolution}")
    features_64 = x

    heatmap = layers.Conv2D(num_out, 1, padding="same", name="heatmap")(features_64)
    outputs = {"heatmap": heatmap}
    if config.offset_head:
        outputs["offsets"] = layers.Conv2D(2 * num_out, 1, padding="same",
                                           name="offsets")(features_64)

    # Segmentation head: 64 -> 256.
    x = tap(features_64, spec.segmentation_channels, "seg64")
    x = _upsample_add(x, laterals[128], "seg128")
    for index in range(2):
        x = residual_block(x, f"seg128_rb{index}")
    x = layers.UpSampling2D(2, interpolation="bilinear", name="seg256_up")(x)
    for index in range(2):
        x = residual_block(x, f"seg256_rb{index}")
    outputs["segmentation"] = layers.Conv2D(1, 3, padding="same", name="segmentation")(x)

    # Regression branch: reads the trunk only.
    x = StopGradient(name="reg_stop_gradient")(trunk) if config.stop_regression_gradient else trunk
    x = tap(x, spec.regression_channels, f"{REGRESSION_PREFIX}in")
    x = _downsample_block(x, "reg_down4")
    for index in range(spec.regression_blocks[0]):
        x = residual_block(x, f"reg4_rb{index}")
    x = _downsample_block(x, "reg_down2")
    for index in range(spec.regression_blocks[1]):
        x = residual_block(x, f"reg2_rb{index}")
    landmarks = layers.Conv2D(LANDMARK_DIMS * num_out, 2, padding="valid",
                              name="reg_landmarks")(x)
    world = layers.Conv2D(WORLD_DIMS * num_out, 2, padding="valid", name="reg_world")(x)
    flag = layers.Conv2D(1, 2, padding="valid", activation="sigmoid", name="reg_flag")(x)
    outputs["landmarks"] = layers.Reshape((num_out, LANDMARK_DIMS), name="landmarks")(landmarks)
    outputs["world_landmarks"] = layers.Reshape((num_out, WORLD_DIMS),
                                                name="world_landmarks")(world)
    outputs["pose_flag"] = layers.Reshape((1,), name="pose_flag")(flag)

    if name is None:
        name = f"blazepose_{config.variant}_k{config.num_keypoints}"
    return keras.Model(image, outputs, name=name)


def build_model(variant: str = "full", num_keypoints: int = topology.NUM_BLAZEPOSE_LANDMARKS, *,
                num_extra_landmarks: int | None = None, offset_head: bool = False,
                stop_regression_gradient: bool = False, name: str | None = None):
    """Builds a BlazePose landmark network (a Keras 3 functional model).

    Args:
      variant: ``"full"`` (layer for layer Google's BlazePose Full, 3.17 M parameters at K=33),
        ``"lite"`` or ``"heavy"`` (untrained re-scalings, see ``blazepose.model.architecture``).
      num_keypoints: K, the body keypoints the heads predict.
      num_extra_landmarks: outputs after the K keypoints; default 6 for K=33 (Google's two
        auxiliary ROI points and four unused), else 0.
      offset_head: add an ``offsets`` output ``[N, 64, 64, 2L]``.
      stop_regression_gradient: the regression branch does not train the shared trunk.
      name: the Keras model's name.

    Returns:
      A ``keras.Model`` taking float32 ``[N, 256, 256, 3]`` RGB in [0, 1] and returning a dict
      ``landmarks [N, L, 5]``, ``world_landmarks [N, L, 3]``, ``pose_flag [N, 1]``,
      ``heatmap [N, 64, 64, L]``, ``segmentation [N, 256, 256, 1]`` (L = K + extra).

    Raises:
      ValueError: unknown variant or a keypoint count below 1.
    """
    config = LandmarkModelConfig(variant=variant, num_keypoints=num_keypoints,
                                 num_extra_landmarks=num_extra_landmarks, offset_head=offset_head,
                                 stop_regression_gradient=stop_regression_gradient)
    return build_landmark_model(config, name=name)
