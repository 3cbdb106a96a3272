"""BlazePose networks: architecture descriptions, Keras builders, custom layers and decoding."""

from blazepose.detector_anchors import (
                                          POSE_DETECTOR_ANCHORS,
                                          SsdAnchorOptions,
                                          anchor_grids,
                                          generate_anchors,
)
from blazepose.model.architecture import (
                                          FULL,
                                          HEAVY,
                                          LITE,
                                          VARIANTS,
                                          InvertedResidual,
                                          LandmarkArchitecture,
                                          get_architecture,
                                          scale_architecture,
)
from blazepose.model.detector import build_detector_model
from blazepose.model.landmark import (
                                          OUTPUT_KEYS,
                                          LandmarkModelConfig,
                                          build_landmark_model,
                                          build_model,
)
from blazepose.model.layers import DepthToSpace, StopGradient
from blazepose.model.quantization import quantize_model

__all__ = [
    "FULL", "HEAVY", "LITE", "VARIANTS", "InvertedResidual", "LandmarkArchitecture",
    "LandmarkModelConfig", "OUTPUT_KEYS", "StopGradient", "build_landmark_model", "build_model",
    "get_architecture", "scale_architecture",
    # Person detector and its anchors (post-processing: blazepose.inference.postprocess).
    "DepthToSpace", "POSE_DETECTOR_ANCHORS", "SsdAnchorOptions", "anchor_grids",
    "build_detector_model", "generate_anchors",
    # Quantisation-aware networks (int8).
    "quantize_model",
]
