"""Architecture descriptions of the BlazePose landmark network and its variants.

A variant is data, not code: :class:`LandmarkArchitecture` lists channel widths, kernel sizes and
block counts, and :func:`blazepose.model.landmark.build_landmark_model` turns any of them into a
Keras model. ``FULL`` is read off Google's ``pose_landmark_full.tflite`` (MediaPipe 0.10.21), op by
op; ``LITE`` and ``HEAVY`` are derived from it by :func:`scale_architecture` (see their comments).
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class InvertedResidual:
    """One MobileNetV2-style block: 1x1 expand + ReLU6, depthwise kxk + ReLU6, linear 1x1 project.

    A residual connection is added when ``stride == 1`` and the input already has ``out``
    channels. Stride-2 blocks pad explicitly and symmetrically (``kernel // 2``) before a VALID
    depthwise convolution, as Google's file does.
    """

    expand: int
    kernel: int
    out: int
    stride: int = 1


@dataclasses.dataclass(frozen=True)
class LandmarkArchitecture:
    """Widths and depths of the landmark network (input 256x256).

    Attributes:
      stem_channels: channels of the stride-2 3x3 stem convolution (128x128).
      stem_output_channels: channels after the stem's depthwise + linear 1x1 (feature ``A``).
      stages: four encoder stages at 64, 32, 16 and 8 pixels; each starts with a stride-2 block.
        Their outputs are ``B``, ``C``, ``D`` and the input of the trunk.
      trunk_channels: the 1x1 expansion at 8x8 followed by a depthwise 3x3 (feature ``T``).
      decoder_channels: width of the lateral taps on ``B``, ``C``, ``D`` and of the decoder.
      segmentation_channels: width of the tap on ``A`` and of the segmentation head.
      regression_channels: width of the regression branch (reads ``T`` only).
      regression_blocks: residual blocks after the 8->4 and the 4->2 downsampling.
    """

    stem_channels: int
    stem_output_channels: int
    stages: tuple[tuple[InvertedResidual, ...], ...]
    trunk_channels: int
    decoder_channels: int
    segmentation_channels: int
    regression_channels: int
    regression_blocks: tuple[int, int]

    def __post_init__(self):
        if len(self.stages) != 4:
            raise ValueError(f"LandmarkArchitecture needs 4 encoder stages, got {len(self.stages)}")
        for index, stage in enumerate(self.stages):
            if not stage or stage[0].stride != 2 or any(b.stride != 1 for b in stage[1:]):
                raise ValueError(
                    f"encoder stage {index} must start with one stride-2 block followed by "
                    f"stride-1 blocks, got strides {[b.stride for b in stage]}"
                )
        if len(self.regression_blocks) != 2 or min(self.regression_blocks) < 0:
            raise ValueError(f"regression_blocks must be two counts >= 0, got "
                             f"{self.regression_blocks}")


def _ir(expand, kernel, out, stride=1, repeat=1):
    return (InvertedResidual(expand, kernel, out, stride),) * repeat


# Read off pose_landmark_full.tflite (see shared/reference/pose_landmark_full.graph.compact.txt).
FULL = LandmarkArchitecture(
    stem_channels=24,
    stem_output_channels=16,
    stages=(
        _ir(64, 3, 24, 2) + _ir(144, 3, 24),
        _ir(144, 5, 32, 2) + _ir(192, 5, 32),
        _ir(192, 3, 64, 2) + _ir(384, 3, 64, repeat=2)
        + _ir(384, 5, 88) + _ir(528, 5, 88, repeat=2),
        _ir(528, 5, 144, 2) + _ir(864, 5, 144, repeat=3),
    ),
    trunk_channels=864,
    decoder_channels=48,
    segmentation_channels=8,
    regression_channels=288,
    regression_blocks=(4, 5),
)


def _round_channels(channels: float, divisor: int = 8) -> int:
    """Rounds to the nearest multiple of ``divisor`` (never below it), MobileNet style."""
    return max(divisor, int(channels / divisor + 0.5) * divisor)


def scale_architecture(base: LandmarkArchitecture, width: float, depth: float
                       ) -> LandmarkArchitecture:
    """Scales every channel count by ``width`` and the stride-1 repeats of each stage by ``depth``.

    Within a stage, runs of identical blocks are grouped; each run's length is scaled and rounded
    up, so a stage never loses its stride-2 block or any distinct block kind. The
    regression branch's block counts scale with ``depth`` too.
    """
    if width <= 0 or depth <= 0:
        raise ValueError(f"width and depth must be positive, got width={width}, depth={depth}")

    def scale_block(block: InvertedResidual) -> InvertedResidual:
        return InvertedResidual(_round_channels(block.expand * width), block.kernel,
                                _round_channels(block.out * width), block.stride)

    stages = []
    for stage in base.stages:
        blocks = [scale_block(stage[0])]
        groups: list[list[InvertedResidual]] = []
        for block in stage[1:]:
            if groups and groups[-1][0] == block:
                groups[-1].append(block)
            else:
                groups.append([block])
        for group in groups:
            blocks.extend(scale_block(group[0]) for _ in range(math.ceil(len(group) * depth)))
        stages.append(tuple(blocks))
    return LandmarkArchitecture(
        stem_channels=_round_channels(base.stem_channels * width),
        stem_output_channels=_round_channels(base.stem_output_channels * width),
        stages=tuple(stages),
        trunk_channels=_round_channels(base.trunk_channels * width),
        decoder_channels=_round_channels(base.decoder_channels * width),
        segmentation_channels=base.segmentation_channels,
        regression_channels=_round_channels(base.regression_channels * width),
        regression_blocks=tuple(math.ceil(n * depth) for n in base.regression_blocks),
    )


# Lite and Heavy are untrained re-scalings of Full. Google ships Lite and Heavy files too, but their
# graphs are not in our reference, so we claim neither their layers nor their weights: only a
# similar budget. Lite narrows every layer to 5/8 and halves the repeats (1.08 M parameters,
# about a third of Full, the budget class of a phone-first model); Heavy doubles every width and
# adds half again as many repeats (16.3 M, about five times Full) for servers and desktops.
LITE = scale_architecture(FULL, width=0.625, depth=0.5)
HEAVY = scale_architecture(FULL, width=2.0, depth=1.5)

VARIANTS: dict[str, LandmarkArchitecture] = {"lite": LITE, "full": FULL, "heavy": HEAVY}


def get_architecture(variant: str) -> LandmarkArchitecture:
    """Returns the architecture of a named variant (``lite``, ``full`` or ``heavy``)."""
    try:
        return VARIANTS[variant]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown BlazePose variant {variant!r}; known variants: {sorted(VARIANTS)}"
        ) from None
