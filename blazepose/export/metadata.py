"""``metadata.json`` written beside every export: interface, meanings, keypoint topology.

The file is plain JSON so that any runtime (the web page, a mobile app, a server) can read how to
feed the model and what its outputs mean without this package.
"""

from __future__ import annotations

import datetime
import json
import os

from blazepose import __version__
from blazepose.export import mediapipe_task
from blazepose.export.config import IMAGE_SIGNATURE, ExportConfig
from blazepose.export.sources import ModelSource

METADATA_FILE = "metadata.json"
SCHEMA = "blazepose-export/1"

CONVENTIONS = (
    "Coordinates are continuous: pixel i spans [i, i + 1); normalised = pixels / size. "
    "Left and right are the person's own. z uses the x scale and is relative to the hips "
    "(smaller = closer to the camera).")


def _crop_input(batch) -> dict:
    return {"name": "image", "shape": [batch, 256, 256, 3], "dtype": "float32",
            "range": [0.0, 1.0], "layout": "NHWC, RGB",
            "meaning": "an upright square person crop (the region MediaPipe's detector or "
                       "tracker selects), resized to 256x256"}


def _image_input(batch) -> dict:
    return {"name": "image", "shape": [batch, None, None, 3], "dtype": "uint8",
            "range": [0, 255], "layout": "NHWC, RGB",
            "meaning": "a person crop of any size (square keeps proportions); resized to "
                       "256x256 inside (bilinear, half-pixel centres) and scaled to [0, 1]"}


def _crop_outputs(num_landmarks: int, offsets: bool, n: int | None = None) -> dict:
    outputs = {
        "landmarks": {"shape": [n, num_landmarks, 5], "dtype": "float32",
                      "meaning": "x, y, z in 256-crop pixels (0..256), visibility logit, "
                                 "presence logit (probability = sigmoid)"},
        "world_landmarks": {"shape": [n, num_landmarks, 3], "dtype": "float32",
                            "meaning": "x, y, z in metres, origin between the hips"},
        "pose_flag": {"shape": [n, 1], "dtype": "float32",
                      "meaning": "probability that the crop shows a person"},
        "heatmap": {"shape": [n, 64, 64, num_landmarks], "dtype": "float32",
                    "meaning": "per-landmark heatmap logits; cell (row, col) spans "
                               "[col/64, (col+1)/64) x [row/64, (row+1)/64) of the crop"},
        "segmentation": {"shape": [n, 256, 256, 1], "dtype": "float32",
                         "meaning": "person segmentation logits (probability = sigmoid)"},
    }
    if offsets:
        outputs["offsets"] = {"shape": [n, 64, 64, 2 * num_landmarks], "dtype": "float32",
                              "meaning": "per landmark (x, y) offsets in heatmap cells, "
                                         "interleaved, read at the heatmap peak"}
    return outputs


def _image_outputs(num_landmarks: int, n: int | None = None) -> dict:
    return {
        "landmarks": {"shape": [n, num_landmarks, 5], "dtype": "float32",
                      "meaning": "x, y, z normalised to the input image (x * width, y * height "
                                 "are input pixels; z on the x scale), visibility and presence "
                                 "probabilities; x, y refined with the heatmap as MediaPipe does"},
        "world_landmarks": {"shape": [n, num_landmarks, 3], "dtype": "float32",
                            "meaning": "x, y, z in metres, origin between the hips"},
        "pose_flag": {"shape": [n], "dtype": "float32",
                      "meaning": "probability that the image shows a person"},
        "segmentation": {"shape": [n, 256, 256, 1], "dtype": "float32",
                         "meaning": "person segmentation probability over the resized input"},
    }


TASK_USAGE = (
    "import mediapipe as mp; from mediapipe.tasks.python import BaseOptions, vision; "
    "landmarker = vision.PoseLandmarker.create_from_options(vision.PoseLandmarkerOptions("
    "base_options=BaseOptions(model_asset_path='pose_landmarker.task'), "
    "running_mode=vision.RunningMode.VIDEO)); "
    "result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, "
    "data=rgb_frame), timestamp_ms)  # Android, iOS and web take the same file")

_TASK_OUTPUT_MEANINGS = {
    "landmarks": "39 landmarks x 5 (x, y, z in 256-crop pixels, visibility and presence "
                 "logits), flattened",
    "pose_flag": "probability that the crop shows a person",
    "segmentation": "person segmentation logits",
    "heatmap": "per-landmark heatmap logits MediaPipe refines x, y with",
    "world_landmarks": "39 landmarks x 3 (x, y, z in metres, origin between the hips), "
                       "flattened",
}


def _task_interface() -> tuple[dict, dict]:
    """Input and outputs (MediaPipe's order) of the landmark network inside the ``.task``."""
    crop = _crop_input(1)
    crop["meaning"] = (
        "pose_landmarks_detector.tflite inside pose_landmarker.task. Applications pass whole "
        "images or video frames to MediaPipe's PoseLandmarker, which detects the person "
        "(pose_detector.tflite), tracks them across frames, and feeds this network the upright "
        "256x256 crop scaled to [0, 1] as the TFLite metadata states (NormalizationOptions "
        "mean 0, std 255)")
    outputs = {spec.name: {"shape": list(spec.shape), "dtype": "float32",
                           "meaning": _TASK_OUTPUT_MEANINGS[spec.name]}
               for spec in mediapipe_task.LANDMARK_OUTPUTS}
    return crop, outputs


def keypoints_metadata(source: ModelSource) -> dict:
    """The ``keypoints`` entry: ``Topology.to_dict`` plus the model's extra outputs."""
    topology = source.topology
    return {
        **topology.to_dict(),
        "num_keypoints": topology.num_keypoints,
        "num_landmark_outputs": source.num_landmarks,
        "names": list(topology.keypoint_names) + list(source.extra_names),
        "extra_outputs": {"first_index": topology.num_keypoints,
                          "names": list(source.extra_names),
                          "meaning": "landmark outputs after the keypoints (for Google's 33: "
                                     "two ROI points MediaPipe uses for tracking, four unused)"},
    }


def build_metadata(source: ModelSource, config: ExportConfig, files: list[str],
                   extra: dict | None = None) -> dict:
    """The metadata dict of one export (see the module docstring)."""
    image = config.signature == IMAGE_SIGNATURE
    batch = 1 if config.format == "tflite" else None
    offsets = "offsets" in source.model.output
    metadata = {
        "schema": SCHEMA,
        "created_by": f"blazepose {__version__}",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "format": config.format,
        "quantization": config.quantize,
        "files": sorted(files),
        "signature": config.signature,
        "source": source.description,
        "input": _image_input(batch) if image else _crop_input(batch),
        "outputs": _image_outputs(source.num_landmarks, batch) if image else _crop_outputs(
            source.num_landmarks, offsets, batch),
        "keypoints": keypoints_metadata(source),
        "conventions": CONVENTIONS,
    }
    if config.format == "mediapipe_task":
        metadata["input"], metadata["outputs"] = _task_interface()
        metadata["outputs_order"] = "as listed: MediaPipe reads the outputs by position"
        metadata["usage"] = TASK_USAGE
    if config.format == "saved_model":
        metadata["signatures"] = {
            "serving_default": {"input": _crop_input(None),
                                "outputs": _crop_outputs(source.num_landmarks, offsets)},
            "serve_image": {"input": _image_input(None),
                            "outputs": _image_outputs(source.num_landmarks)},
        }
    metadata.update(extra or {})
    return metadata


def write_metadata(directory: os.PathLike, metadata: dict) -> None:
    with open(os.path.join(directory, METADATA_FILE), "w") as stream:
        json.dump(metadata, stream, indent=2)
        stream.write("\n")


def read_metadata(directory: os.PathLike) -> dict:
    with open(os.path.join(directory, METADATA_FILE)) as stream:
        return json.load(stream)
