"""What an export produces: format, quantisation and interface, checked before any work."""

from __future__ import annotations

import dataclasses

FORMATS = ("saved_model", "tflite", "onnx", "tfjs")
QUANTIZATIONS = ("none", "float16", "int8")

# Quantisations each format can produce. TFLite: float16 weights (dequantised at load time, as in
# Google's own file) or full-integer int8 calibrated on a representative data set. TF.js: float16
# weights in the weight files (computed in float32). SavedModel and ONNX are float32 only.
SUPPORTED_QUANTIZATIONS = {
    "saved_model": ("none",),
    "tflite": ("none", "float16", "int8"),
    "onnx": ("none",),
    "tfjs": ("none", "float16"),
}

# Names of the SavedModel's serving signatures (see blazepose.export.saved_model).
CROP_SIGNATURE = "serving_default"
IMAGE_SIGNATURE = "serve_image"


class ExportError(ValueError):
    """Bad export request (format, quantisation, source, output folder); raised before any
    file is written."""


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """One export.

    Attributes:
      format: ``saved_model``, ``tflite``, ``onnx`` or ``tfjs``.
      quantize: ``none``, ``float16`` or ``int8`` (see ``SUPPORTED_QUANTIZATIONS``).
      with_preprocessing: the converted model takes a uint8 RGB image of any size and resizes and
        normalises it inside, returning decoded landmarks (the SavedModel's ``serve_image``
        signature); without it, the float ``[N, 256, 256, 3]`` crop in [0, 1] and raw outputs
        (``serving_default``). A SavedModel always has both signatures.
      calibration_images: crops of the representative data set used to calibrate int8.
      onnx_opset: ONNX opset of the ONNX export.
    """

    format: str
    quantize: str = "none"
    with_preprocessing: bool = False
    calibration_images: int = 64
    onnx_opset: int = 17

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ExportError(f"unknown --format {self.format!r}; known: {', '.join(FORMATS)}")
        if self.quantize not in QUANTIZATIONS:
            raise ExportError(f"unknown --quantize {self.quantize!r}; known: "
                              f"{', '.join(QUANTIZATIONS)}")
        supported = SUPPORTED_QUANTIZATIONS[self.format]
        if self.quantize not in supported:
            raise ExportError(f"--format={self.format} cannot be quantised to {self.quantize}; "
                              f"it supports --quantize={'|'.join(supported)}")
        if self.calibration_images < 1:
            raise ExportError(f"calibration_images must be >= 1, got {self.calibration_images}")
        if not 13 <= self.onnx_opset <= 21:
            raise ExportError(f"onnx_opset must be in 13..21, got {self.onnx_opset}")

    @property
    def signature(self) -> str:
        """The SavedModel signature the format is converted from."""
        return IMAGE_SIGNATURE if self.with_preprocessing else CROP_SIGNATURE

    @property
    def precision(self) -> str:
        """``float32``, ``float16`` or ``int8``: what the parity tolerances depend on."""
        return "float32" if self.quantize == "none" else self.quantize
