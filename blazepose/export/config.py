"""What an export produces: format, quantisation and interface, checked before any work."""

from __future__ import annotations

import dataclasses

FORMATS = ("saved_model", "tflite", "onnx", "tfjs", "mediapipe_task")
QUANTIZATIONS = ("none", "float16", "int8")

# Quantisations each format can produce. TFLite: float16 weights (dequantised at load time, as in
# Google's own file) or full-integer int8 calibrated on a representative data set. TF.js: float16
# weights in the weight files (computed in float32). SavedModel and ONNX are float32 only.
# MediaPipe task bundle: the landmark network in float32 or with float16 weights (Google's own
# format), or int8 when the network was trained quantisation-aware (see INT8_TASK_REFUSAL).
SUPPORTED_QUANTIZATIONS = {
    "saved_model": ("none",),
    "tflite": ("none", "float16", "int8"),
    "onnx": ("none",),
    "tfjs": ("none", "float16"),
    "mediapipe_task": ("none", "float16", "int8"),
}
INT8_INPUTS = ("float32", "uint8")

INT8_TASK_REFUSAL = (
    "--format=mediapipe_task --quantize=int8 needs a quantisation-aware checkpoint (python -m "
    "launch.train --preset=qat): post-training int8 moves the keypoints by 8-14 px on a 256-px "
    "crop and makes the pose flag unusable (MediaPipe decides from it whether a person is "
    "present); otherwise use --quantize=float16 or --quantize=none")

# Files a detector given to a mediapipe_task export may be (ExportConfig.detector).
DETECTOR_SUFFIXES = (".tflite", ".keras")

# Names of the SavedModel's serving signatures (see blazepose.export.saved_model).
CROP_SIGNATURE = "serving_default"
IMAGE_SIGNATURE = "serve_image"


class ExportError(ValueError):
    """Bad export request (format, quantisation, source, output folder); raised before any
    file is written."""


class VerificationError(RuntimeError):
    """The export does not agree with the Keras model (or, for a ``.task``, MediaPipe's run of
    it with Google's models) within the stated tolerances; nothing is written."""


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """One export.

    Attributes:
      format: ``saved_model``, ``tflite``, ``onnx``, ``tfjs`` or ``mediapipe_task`` (a
        ``pose_landmarker.task`` for MediaPipe's ``PoseLandmarker``: see
        :mod:`blazepose.export.task_export`).
      quantize: ``none``, ``float16`` or ``int8`` (see ``SUPPORTED_QUANTIZATIONS``).
      with_preprocessing: the converted model takes a uint8 RGB image of any size and resizes and
        normalises it inside, returning decoded landmarks (the SavedModel's ``serve_image``
        signature); without it, the float ``[N, 256, 256, 3]`` crop in [0, 1] and raw outputs
        (``serving_default``). A SavedModel always has both signatures.
      calibration_images: crops of the representative data set used to calibrate int8.
      onnx_opset: ONNX opset of the ONNX export.
      int8_input: ``int8`` of a quantisation-aware network: the input tensor ``float32`` (the
        crop in [0, 1], quantised inside) or ``uint8`` (the crop's 0..255 pixel values; scale
        1/255, zero point 0). A ``mediapipe_task`` always takes float32 (MediaPipe normalises).
      require_qat: ``int8`` only from a quantisation-aware network (no post-training
        calibration).
      detector: ``mediapipe_task`` only: the person detector bundled with the landmark network.
        None: Google's ``pose_detection.tflite`` (mediapipe 0.10.21, fetched once and cached);
        else a path to a ``.tflite`` file with the interface of Google's (float32 input
        ``[1, 224, 224, 3]`` in [-1, 1]; outputs boxes ``[1, 2254, 12]``, scores
        ``[1, 2254, 1]``) or a ``.keras`` detector network (``python -m
        launch.convert_mediapipe --model=detector``), converted with ``quantize``.
    """

    format: str
    quantize: str = "none"
    with_preprocessing: bool = False
    calibration_images: int = 64
    onnx_opset: int = 17
    int8_input: str = "float32"
    require_qat: bool = False
    detector: str | None = None

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ExportError(f"unknown --format {self.format!r}; known: {', '.join(FORMATS)}")
        if self.quantize not in QUANTIZATIONS:
            raise ExportError(f"unknown --quantize {self.quantize!r}; known: "
                              f"{', '.join(QUANTIZATIONS)}")
        if self.format == "mediapipe_task":
            self._check_task_request()
        elif self.detector is not None:
            raise ExportError(f"--detector is bundled only by --format=mediapipe_task, not "
                              f"--format={self.format}")
        supported = SUPPORTED_QUANTIZATIONS[self.format]
        if self.quantize not in supported:
            raise ExportError(f"--format={self.format} cannot be quantised to {self.quantize}; "
                              f"it supports --quantize={'|'.join(supported)}")
        if self.calibration_images < 1:
            raise ExportError(f"calibration_images must be >= 1, got {self.calibration_images}")
        if self.int8_input not in INT8_INPUTS:
            raise ExportError(f"--int8_input must be one of {', '.join(INT8_INPUTS)}, got "
                              f"{self.int8_input!r}")
        if self.int8_input != "float32" and (self.quantize != "int8"
                                             or self.format != "tflite"):
            raise ExportError("--int8_input=uint8 applies to --format=tflite --quantize=int8")
        if self.require_qat and self.quantize != "int8":
            raise ExportError("--require_qat applies to --quantize=int8")
        if not 13 <= self.onnx_opset <= 21:
            raise ExportError(f"onnx_opset must be in 13..21, got {self.onnx_opset}")

    def _check_task_request(self) -> None:
        if self.with_preprocessing:
            raise ExportError("--with_preprocessing does not apply to --format=mediapipe_task: "
                              "MediaPipe's PoseLandmarker detects, crops and normalises the image "
                              "itself and feeds the landmark network float32 256x256 crops")
        if self.detector is not None and not str(self.detector).endswith(DETECTOR_SUFFIXES):
            raise ExportError(f"--detector {self.detector}: expected a .tflite file or a .keras "
                              "detector network (python -m launch.convert_mediapipe "
                              "--model=detector)")

    @property
    def signature(self) -> str:
        """The SavedModel signature the format is converted from."""
        return IMAGE_SIGNATURE if self.with_preprocessing else CROP_SIGNATURE

    @property
    def precision(self) -> str:
        """``float32``, ``float16`` or ``int8``: what the parity tolerances depend on."""
        return "float32" if self.quantize == "none" else self.quantize
