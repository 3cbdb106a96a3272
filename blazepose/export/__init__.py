"""Export and deployment: SavedModel, TFLite (float32, float16, int8), ONNX, TF.js and
MediaPipe's ``pose_landmarker.task`` (float32, float16; see :mod:`blazepose.export.task_export`).

``python -m launch.export`` is the command line; :func:`export_model` the library call::

    from blazepose.export import ExportConfig, export_model, sources
    source = sources.from_mediapipe()                  # or from_checkpoint / from_keras_file
    export_model(source, "out/tflite16", ExportConfig("tflite", quantize="float16"))

Every export is a folder with the model files and ``metadata.json`` (input size and range,
output names and meanings, keypoint topology, provenance, and the measured agreement with the
Keras model when verified). The SavedModel (Keras 3's ``ExportArchive``) has two signatures,
``serving_default`` (float crop -> raw outputs) and ``serve_image`` (uint8 image -> decoded
landmarks); every other format is converted from one of them (``--with_preprocessing`` picks
``serve_image``).

TensorRT consumes the ONNX export (not run here: no GPU). On a machine with TensorRT::

    trtexec --onnx=model.onnx --saveEngine=model.plan --fp16 \\
        --minShapes=image:1x256x256x3 --optShapes=image:1x256x256x3 \\
        --maxShapes=image:16x256x256x3

(the ONNX export's ``metadata.json`` records the exact command under ``tensorrt``).

MediaPipe's runtime (Python Tasks, Android, iOS, web) takes the ``mediapipe_task`` export::

    export_model(source, "out/task", ExportConfig("mediapipe_task", quantize="float16"))
    # out/task/pose_landmarker.task: Google's detector + this landmark network, run in
    # MediaPipe's PoseLandmarker (IMAGE and VIDEO modes) before it is kept
"""

from blazepose.export.config import (
                                     CROP_SIGNATURE,
                                     FORMATS,
                                     IMAGE_SIGNATURE,
                                     QUANTIZATIONS,
                                     SUPPORTED_QUANTIZATIONS,
                                     ExportConfig,
                                     ExportError,
)
from blazepose.export.exporter import ExportResult, VerificationError, export_model

__all__ = ["CROP_SIGNATURE", "FORMATS", "IMAGE_SIGNATURE", "QUANTIZATIONS",
           "SUPPORTED_QUANTIZATIONS", "ExportConfig", "ExportError", "ExportResult",
           "VerificationError", "export_model"]
