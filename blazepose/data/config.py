"""Typed configuration of the input pipeline: crop, augmentation and targets."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CropConfig:
    """How the square person crop is placed.

    Attributes:
      size: side of the output crop in pixels (the network's input, 256).
      framing: ``"box"``: a square around the person box (side = its longer side x ``scale``);
        ``"mediapipe"``: as MediaPipe's detector and tracker frame a person for the landmark
        network (centre mid-hip, side from the body's extent and torso x ``scale``, rotated
        upright), falling back to the box where no hip and shoulder are labelled
        (``blazepose.data.ops.person_frame``). Google's network was trained on the latter.
      scale: MediaPipe's ROI scale (1.25): the crop side over the framed size.
      upright: with ``framing="box"``, rotate the crop so the body is upright (hips below
        shoulders), as MediaPipe's crops are; needs a labelled hip and shoulder, else the crop is
        not rotated. (``"mediapipe"`` framing is always upright.)
      require_torso: drop (and count) records without a labelled hip and shoulder instead of
        framing them by their box.
      fill_value: value of pixels outside the source image (0-255).
    """

    size: int = 256
    framing: str = "box"
    scale: float = 1.25
    upright: bool = False
    require_torso: bool = False
    fill_value: int = 0

    def __post_init__(self):
        if self.framing not in ("box", "mediapipe"):
            raise ValueError(f"CropConfig.framing must be 'box' or 'mediapipe', got "
                             f"{self.framing!r}")
        if not self.scale > 0 or self.size < 1:
            raise ValueError(f"CropConfig needs size >= 1 and scale > 0, got size={self.size}, "
                             f"scale={self.scale}")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation; each kind happens with its probability, within its range.

    Geometry (one affine matrix for image and keypoints): rotation in degrees, scale factor of the
    crop side, shift as a fraction of the crop side, horizontal flip (with the topology's flip
    permutation). Colour: brightness (added, in [0, 1] units), contrast, saturation (factors) and
    hue (rotation in degrees), all folded into one 3x3 colour matrix per image. Then Gaussian blur
    (sigma in pixels), Gaussian noise (std in [0, 1] units), JPEG re-encoding (quality range), and
    BlazePose's random occlusion (rectangles of random colour or noise; keypoints under them get
    visibility 0).
    """

    # Crops at inference are made upright by the detector / tracker, so rotations are modest.
    rotation_probability: float = 0.5
    max_rotation_degrees: float = 30.0
    scale_probability: float = 0.6
    scale_range: tuple[float, float] = (0.8, 1.25)
    shift_probability: float = 0.5
    max_shift: float = 0.1
    flip_probability: float = 0.5
    colour_probability: float = 0.8
    max_brightness: float = 0.15
    contrast_range: tuple[float, float] = (0.7, 1.3)
    saturation_range: tuple[float, float] = (0.6, 1.4)
    max_hue_degrees: float = 12.0
    blur_probability: float = 0.15
    blur_sigma_range: tuple[float, float] = (0.5, 1.5)
    noise_probability: float = 0.15
    max_noise_std: float = 0.04
    jpeg_probability: float = 0.0
    jpeg_quality_range: tuple[int, int] = (40, 90)
    occlusion_probability: float = 0.3
    max_occluders: int = 2
    occluder_size_range: tuple[float, float] = (0.1, 0.35)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("probability") and not 0.0 <= value <= 1.0:
                raise ValueError(f"AugmentConfig.{field.name} must be in [0, 1], got {value}")
            if field.name.endswith("_range") and not value[0] <= value[1]:
                raise ValueError(f"AugmentConfig.{field.name} must be (low, high), got {value}")


# Geometry jitter as wide as the gap between MediaPipe's detector crop and the crop framed from
# labelled keypoints (framing="mediapipe"), measured on 27 coco_mini people (detector found,
# 10+ keypoints): rotation |error| median 4.8 deg, 90th percentile 18.6 deg; side ratio
# 0.88-1.20 (10th-90th percentile); centre shift 0.04 (median), 0.10 (90th) of the side.
MEDIAPIPE_JITTER = AugmentConfig(
    rotation_probability=0.7, max_rotation_degrees=20.0, scale_probability=0.7,
    scale_range=(0.85, 1.2), shift_probability=0.7, max_shift=0.06)

NO_AUGMENTATION = AugmentConfig(
    rotation_probability=0.0, scale_probability=0.0, shift_probability=0.0, flip_probability=0.0,
    colour_probability=0.0, blur_probability=0.0, noise_probability=0.0, jpeg_probability=0.0,
    occlusion_probability=0.0)


@dataclasses.dataclass(frozen=True)
class TargetConfig:
    """Training targets.

    Attributes:
      heatmap_size: side of the heatmaps (the network's 64).
      heatmap_sigma: Gaussian sigma in heatmap cells.
      offsets: also produce offset-map targets (for models built with ``offset_head``).
      offset_radius: offsets are supervised in cells within this distance (in cells) of the
        keypoint.
    """

    heatmap_size: int = 64
    heatmap_sigma: float = 1.5
    offsets: bool = False
    offset_radius: float = 2.0


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything the input pipeline needs besides the data set itself."""

    crop: CropConfig = CropConfig()
    augment: AugmentConfig = AugmentConfig()
    targets: TargetConfig = TargetConfig()
    topology: str = "blazepose_33"
    shuffle_buffer: int = 1024
    seed: int = 0
    deterministic: bool = False
    # XLA-compile the per-batch stage (float conversion, colour, targets); see batch_transform.
    compile_batch_ops: bool = True
    # XLA-compile the per-example geometry (framing, random crop, decode window, warp plan,
    # keypoints): a few hundred scalar ops become two compiled calls; see example_transform.
    compile_example_geometry: bool = True
    # Examples made at once by the per-example map: None for twice the CPU cores this process
    # may use, tf.data.AUTOTUNE (-1) to let tf.data choose. The crop's XLA steps block their
    # tf.data thread while they run; AUTOTUNE on 2 cores keeps ~1.88 of them busy, twice the
    # cores ~1.94, as decode+resize alone does (+5 % images/s in alternating runs).
    example_parallel_calls: int | None = None

    def __post_init__(self):
        calls = self.example_parallel_calls
        if calls is not None and calls != -1 and calls < 1:
            raise ValueError("PipelineConfig.example_parallel_calls must be None, -1 (AUTOTUNE) "
                             f"or at least 1, got {calls}")
