"""Inference: MediaPipe's single-person BlazePose pipeline on our networks, image or video.

    from blazepose.inference import PosePipeline

    pipeline = PosePipeline.from_pretrained(backend="tflite", num_threads=2)
    result = pipeline.process_image(image_rgb_uint8)            # PoseResult or None
    for index, frame in enumerate(frames):                      # video: tracking + smoothing
        result = pipeline.process_frame(frame, timestamp_s=index / fps)

``PoseResult.landmarks`` is float32 ``[33, 5]`` (x, y, z in image pixels, visibility, presence),
``world_landmarks`` float32 ``[33, 3]`` metres. Needs OpenCV (``pip install
opencv-python-headless``, the ``video`` extra) for the crop warps.
"""

try:
    import cv2  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError("blazepose.inference needs OpenCV: pip install 'blazepose-tf2[video]' "
                      "(opencv-python-headless)") from error

from blazepose.inference.backends import (
                                          BackendError,
                                          KerasBackend,
                                          TFLiteBackend,
                                          make_backend,
                                          resolve_output_keys,
)
from blazepose.inference.filters import LowPassFilter, OneEuroConfig, OneEuroFilter
from blazepose.inference.geometry import Roi, crop_image, project_landmarks, roi_from_keypoints
from blazepose.inference.pipeline import PipelineConfig, PosePipeline, PoseResult

__all__ = [
    "BackendError", "KerasBackend", "LowPassFilter", "OneEuroConfig", "OneEuroFilter",
    "PipelineConfig", "PoseResult", "PosePipeline", "Roi", "TFLiteBackend", "crop_image",
    "make_backend", "project_landmarks", "resolve_output_keys", "roi_from_keypoints",
]
