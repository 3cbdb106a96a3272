"""BlazePose networks: architecture descriptions, Keras builders, custom layers and decoding."""

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
from blazepose.model.landmark import OUTPUT_KEYS, LandmarkModelConfig, build_landmark_model
from blazepose.model.layers import StopGradient

__all__ = [
    "FULL", "HEAVY", "LITE", "VARIANTS", "InvertedResidual", "LandmarkArchitecture",
    "LandmarkModelConfig", "OUTPUT_KEYS", "StopGradient", "build_landmark_model",
    "get_architecture", "scale_architecture",
]
