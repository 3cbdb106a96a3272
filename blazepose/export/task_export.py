"""The ``mediapipe_task`` export: ``pose_landmarker.task`` for MediaPipe's ``PoseLandmarker``,
run in MediaPipe's own runtime before it is kept.

The bundle (:mod:`blazepose.export.mediapipe_task`: a stored zip, TFLite model metadata with the
input normalisation) holds two networks:

* ``pose_landmarks_detector.tflite``: the source's landmark network (Google's weights, a
  training checkpoint or a ``.keras`` file with 39 landmark outputs: topology ``blazepose_33``
  plus 6 extra outputs, or ``blazepose_39``), converted from the SavedModel's
  ``serving_default`` with a batch of 1: float32 crop ``[1, 256, 256, 3]`` in [0, 1] ->
  ``landmarks [1, 195]``, ``pose_flag [1, 1]``, ``segmentation [1, 256, 256, 1]``,
  ``heatmap [1, 64, 64, 39]``, ``world_landmarks [1, 117]`` in this order (an offset head is
  left out: MediaPipe does not read it). Weights float32 (``quantize=none``) or float16
  (``float16``, Google's own format).
* ``pose_detector.tflite``: Google's person detector (``pose_detection.tflite`` of mediapipe
  0.10.21, float16 weights) unless ``ExportConfig.detector`` names another: a ``.tflite`` with
  the same interface (bundled as is) or a ``.keras`` detector network (converted with the
  export's ``quantize``).

:func:`check_source` and :func:`resolve_detector` refuse what MediaPipe cannot run before any
file is written. :func:`verify_in_mediapipe` runs MediaPipe's ``PoseLandmarker`` (mediapipe
1.2.2 in its side environment, :mod:`blazepose.mediapipe_runtime`) on a photograph of a person
in IMAGE mode and in VIDEO mode (:data:`VIDEO_FRAMES` frames: detection, then tracking from the
previous landmarks), once with the bundle and once with Google's two files bundled the same
way, and compares the 33 landmarks (x, y image pixels).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import subprocess

import keras
import numpy as np
import tensorflow as tf

import blazepose.model  # noqa: F401  (registers the custom layers for safe_mode loading)
from blazepose import __version__, samples
from blazepose.export import converters, mediapipe_task, saved_model
from blazepose.export.config import ExportError, VerificationError
from blazepose.export.sources import MEDIAPIPE_FULL, ModelSource
from blazepose.mediapipe_runtime import client, environment
from blazepose.model import quantization
from blazepose.pretrained import files

TASK_FILE = mediapipe_task.TASK_FILE
CHECK_PHOTO = "astronaut"  # scikit-image's 512x512 photograph (blazepose.samples)
VIDEO_FRAMES = 3
FRAME_INTERVAL_MS = 33
MODES = ("image", "video")

# MediaPipe with an export of Google's weights (and Google's detector) against MediaPipe with
# Google's own files, on the check photo (512x512), x, y image pixels over the 33 landmarks of
# every frame. Google's weights are float16 numbers, so float32 and float16 exports hold the
# same values as its file and the same ops (measured: 0.0 px in both modes); the bounds leave
# room for a runtime whose kernels sum in another order.
GOOGLE_AGREEMENT_PX = {"median_px": 0.1, "max_px": 1.0}


# ----------------------------------------------------------------------------------------------
# Checks before any file is written.

def check_source(source: ModelSource) -> None:
    """Raises :class:`mediapipe_task.TaskExportError` unless ``source``'s network can be
    MediaPipe's pose landmark network (topology, input and output shapes)."""
    model = source.model
    outputs = model.output if isinstance(model.output, dict) else {}
    mediapipe_task.check_landmark_model(
        tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else (),
        {name: tuple(tensor.shape[1:]) for name, tensor in outputs.items()},
        source.topology.name, _describe(source))


def _describe(source: ModelSource) -> str:
    description = source.description
    return str(description.get("path") or description.get("kind") or "the network")


@dataclasses.dataclass(frozen=True)
class DetectorSource:
    """The person detector to bundle.

    Attributes:
      tflite: its TFLite bytes, interface checked (Google's file or a given ``.tflite``), or
        None when ``model`` is to be converted.
      model: a Keras detector network (``.keras`` file), or None.
      description: JSON-friendly provenance recorded in ``metadata.json``.
    """

    tflite: bytes | None
    model: keras.Model | None
    description: dict

    @property
    def is_googles(self) -> bool:
        return self.description.get("kind") == "mediapipe"


def resolve_detector(path: os.PathLike | None = None,
                     cache_dir: os.PathLike | None = None) -> DetectorSource:
    """The detector ``path`` names (``ExportConfig.detector``), checked; None: Google's.

    Raises:
      ExportError: the file is missing, cannot be loaded, or its interface is not the one
        MediaPipe's pose detector graph reads (:data:`mediapipe_task.DETECTOR_OUTPUTS`).
    """
    if path is None:
        model_file = files.get_model_file("detector")
        tflite = pathlib.Path(files.fetch_model_file("detector", cache_dir)).read_bytes()
        return DetectorSource(tflite, None, {
            "kind": "mediapipe", "file": model_file.filename, "sha256": model_file.sha256,
            "version": files.MEDIAPIPE_VERSION, "precision": "float16 weights"})
    path = pathlib.Path(path)
    if not path.is_file():
        raise ExportError(f"--detector {path}: no such file")
    if path.suffix == ".tflite":
        tflite = path.read_bytes()
        mediapipe_task.check_interface(tflite, mediapipe_task.DETECTOR_INPUTS,
                                       mediapipe_task.DETECTOR_OUTPUTS, f"--detector {path}")
        return DetectorSource(tflite, None, {"kind": "tflite", "path": str(path.resolve()),
                                             "sha256": _sha256(tflite)})
    return DetectorSource(None, _load_keras_detector(path), {"kind": "keras",
                                                             "path": str(path.resolve())})


def _load_keras_detector(path: pathlib.Path) -> keras.Model:
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many kinds for a bad file
        raise ExportError(f"--detector {path}: cannot be loaded: {error}") from error
    outputs = model.output if isinstance(model.output, dict) else {}
    mediapipe_task.check_detector_model(
        tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else (),
        {name: tuple(tensor.shape[1:]) for name, tensor in outputs.items()},
        f"--detector {path}")
    return model


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------------------------
# The bundle.

def landmark_tflite(saved_model_dir: os.PathLike, quantize: str) -> bytes:
    """The landmark network of a SavedModel (:mod:`saved_model`) as MediaPipe's
    ``pose_landmarks_detector.tflite`` (no metadata yet): float32 ``[1, 256, 256, 3]`` input,
    the outputs of :data:`mediapipe_task.LANDMARK_OUTPUTS` in that order."""
    return converters.convert_for_mediapipe(
        saved_model_dir, saved_model.crop_spec(1),
        {spec.name: spec.shape for spec in mediapipe_task.LANDMARK_OUTPUTS}, quantize)


def detector_tflite(detector: DetectorSource, work: pathlib.Path, quantize: str) -> bytes:
    """The detector's TFLite bytes (no metadata yet); a Keras detector is converted through a
    SavedModel written into ``work``."""
    if detector.tflite is not None:
        return detector.tflite
    quantize = detector_quantization(detector, quantize)
    directory = work / "detector_saved_model"
    saved_model.write_detector_saved_model(detector.model, directory)
    return converters.convert_for_mediapipe(
        directory, saved_model.detector_spec(1),
        {spec.name: spec.shape for spec in mediapipe_task.DETECTOR_OUTPUTS}, quantize)


def detector_quantization(detector: DetectorSource, quantize: str) -> str:
    """How a Keras detector is converted in a bundle of ``quantize``: int8 only when the
    detector itself is quantisation-aware, else float16 weights."""
    if quantize == "int8" and not quantization.is_quantized(detector.model):
        return "float16"
    return quantize


PRECISIONS = {"none": "float32", "float16": "float16 weights",
              "int8": "int8 (quantisation-aware; float32 input and outputs)"}


def write_bundle(path: os.PathLike, saved_model_dir: os.PathLike, detector: DetectorSource,
                 work: pathlib.Path, quantize: str) -> dict:
    """Converts the networks, attaches MediaPipe's metadata and writes the ``.task`` to ``path``.

    Returns the bundle's description for ``metadata.json`` (sizes, sha256, provenance).
    """
    version = f"blazepose {__version__}"
    landmarks = mediapipe_task.with_landmark_metadata(landmark_tflite(saved_model_dir, quantize),
                                                      version)
    detector_bytes = mediapipe_task.with_detector_metadata(
        detector_tflite(detector, work, quantize), version, what="the detector")
    task = mediapipe_task.bundle(detector_bytes, landmarks)
    pathlib.Path(path).write_bytes(task)
    precision = PRECISIONS[quantize]
    detector_precision = (detector.description.get("precision") if detector.tflite is not None
                          else PRECISIONS[detector_quantization(detector, quantize)])
    return {
        "file": TASK_FILE, "bytes": len(task), "sha256": _sha256(task),
        "members": {
            mediapipe_task.DETECTOR_FILE: {
                "bytes": len(detector_bytes), "sha256": _sha256(detector_bytes),
                "source": detector.description, "precision": detector_precision},
            mediapipe_task.LANDMARK_FILE: {
                "bytes": len(landmarks), "sha256": _sha256(landmarks), "precision": precision},
        },
        "tflite_metadata": "TFLITE_METADATA (schema M001): NormalizationOptions on 0..255 "
                           "pixels, detector (p - 127.5) / 127.5, landmark network p / 255",
    }


def google_bundle(path: os.PathLike, cache_dir: os.PathLike | None = None) -> pathlib.Path:
    """Google's detector and Full landmark network (mediapipe 0.10.21 files) as a ``.task``,
    with the same metadata: the reference the export is compared with in MediaPipe."""
    detector = pathlib.Path(files.fetch_model_file("detector", cache_dir)).read_bytes()
    full = pathlib.Path(files.fetch_model_file("full", cache_dir)).read_bytes()
    return mediapipe_task.write_task(path, detector, full, files.MEDIAPIPE_VERSION)


# ----------------------------------------------------------------------------------------------
# Running the bundle in MediaPipe.

def check_photo(cache_dir: os.PathLike | None = None) -> np.ndarray:
    """The photograph MediaPipe runs the bundle on: uint8 RGB ``[512, 512, 3]``."""
    path = samples.fetch_sample(CHECK_PHOTO, cache_dir)
    return tf.io.decode_image(tf.io.read_file(str(path)), channels=3,
                              expand_animations=False).numpy()


def mediapipe_python(python: os.PathLike | None = None) -> pathlib.Path:
    """``python``, else the interpreter of MediaPipe's side environment (made the first time,
    about a minute from PyPI).

    Raises:
      ExportError: the environment cannot be made (pip's message included).
    """
    if python is not None:
        if not pathlib.Path(python).is_file():
            raise ExportError(f"--mediapipe_python {python}: no such interpreter")
        return pathlib.Path(python)
    try:
        return environment.ensure_python("tasks")
    except environment.RuntimeUnavailable as error:
        raise ExportError(f"cannot set up MediaPipe to check the bundle ({error}); pass "
                          "--mediapipe_python=PYTHON_WITH_MEDIAPIPE or --noverify") from None


def mediapipe_version(python: os.PathLike) -> str:
    """The mediapipe package version of interpreter ``python`` (without importing it)."""
    result = subprocess.run(
        [os.fspath(python), "-c", "import importlib.metadata as m; print(m.version('mediapipe'))"],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ExportError(f"{python} has no mediapipe package: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()


def run_modes(task: os.PathLike, photo: np.ndarray, python: os.PathLike, what: str) -> dict:
    """MediaPipe's results on ``photo``: ``{"image": [poses], "video": [poses per frame]}``
    (IMAGE mode once; VIDEO mode on :data:`VIDEO_FRAMES` copies, 33 ms apart; segmentation
    masks on, so that the segmentation output is read too).

    Raises:
      ExportError: MediaPipe refused the bundle or failed (its message included).
    """
    options = client.RunnerOptions(segmentation=True)  # MediaPipe reads every output
    try:
        image = client.run_pose_landmarker(task, [photo], options=options, python=python)
        video = client.run_pose_landmarker(
            task, [photo] * VIDEO_FRAMES, video=True,
            timestamps_ms=[i * FRAME_INTERVAL_MS for i in range(VIDEO_FRAMES)],
            options=options, python=python)
    except client.MediaPipeError as error:
        raise ExportError(f"MediaPipe's PoseLandmarker cannot run {what}: {error}") from None
    return {"image": image, "video": video}


def compare_mode(ours: list, google: list) -> dict:
    """Figures of one mode: frames, people found by each, and over the frames where both found
    one, the x, y distance of the 33 landmarks (image pixels: median, max), the world
    landmarks' median distance (cm) and the largest visibility difference."""
    figures = {"frames": len(ours), "found": sum(bool(poses) for poses in ours),
               "found_google": sum(bool(poses) for poses in google)}
    pairs = [(a[0], b[0]) for a, b in zip(ours, google) if a and b]
    if not pairs:
        return figures
    image = np.concatenate([np.linalg.norm(a.landmarks[:, :2] - b.landmarks[:, :2], axis=-1)
                            for a, b in pairs])
    world = np.concatenate([np.linalg.norm(a.world_landmarks - b.world_landmarks, axis=-1)
                            for a, b in pairs])
    visibility = np.concatenate([np.abs(a.landmarks[:, 3] - b.landmarks[:, 3]) for a, b in pairs])
    figures.update(median_px=float(np.median(image)), max_px=float(image.max()),
                   world_median_cm=float(100 * np.median(world)),
                   visibility_max_abs=float(visibility.max()))
    return figures


def problems_of(figures: dict, strict: bool) -> list[str]:
    """What makes a run unacceptable: frames where Google's models find the person and the
    bundle does not; for an export of Google's own networks (``strict``), landmarks beyond
    :data:`GOOGLE_AGREEMENT_PX`."""
    problems = []
    for mode in MODES:
        entry = figures[mode]
        if entry["found"] < entry["found_google"]:
            problems.append(f"{mode} mode: found the person in {entry['found']} of "
                            f"{entry['frames']} frames, Google's models in "
                            f"{entry['found_google']}")
        if not strict:
            continue
        for key, limit in GOOGLE_AGREEMENT_PX.items():
            if key in entry and not entry[key] <= limit:
                problems.append(f"{mode} mode: landmark {key} {entry[key]:.3g} > {limit:g} px")
    return problems


def verify_in_mediapipe(task: os.PathLike, reference: os.PathLike, photo: np.ndarray, *,
                        strict: bool, python: os.PathLike | None = None) -> dict:
    """Runs ``task`` and ``reference`` (Google's files, :func:`google_bundle`) in MediaPipe's
    ``PoseLandmarker`` on ``photo`` (uint8 RGB ``[H, W, 3]``), IMAGE and VIDEO modes.

    Returns the figures recorded in ``metadata.json`` under ``mediapipe``.

    Raises:
      ExportError: MediaPipe refused the bundle (its message included).
      VerificationError: :func:`problems_of` found any.
    """
    python = mediapipe_python(python)
    ours = run_modes(task, photo, python, "the exported bundle")
    google = run_modes(reference, photo, python, "Google's reference bundle")
    figures = {mode: compare_mode(ours[mode], google[mode]) for mode in MODES}
    problems = problems_of(figures, strict)
    if problems:
        raise VerificationError("MediaPipe's PoseLandmarker runs the bundle but it disagrees "
                                f"with Google's models: {'; '.join(problems)}")
    return {
        "runtime": f"mediapipe {mediapipe_version(python)} PoseLandmarker (Python Tasks API)",
        "photo": {"sample": CHECK_PHOTO, "shape": list(photo.shape)},
        "video_frames": VIDEO_FRAMES,
        "reference": f"Google's pose_detection.tflite and pose_landmark_full.tflite "
                     f"(mediapipe {files.MEDIAPIPE_VERSION}) bundled the same way",
        "units": "x, y image pixels over the 33 landmarks; world landmarks cm",
        "tolerances": GOOGLE_AGREEMENT_PX if strict else None,
        **figures,
    }


def is_googles_network(source: ModelSource, detector: DetectorSource) -> bool:
    """Whether the bundle holds Google's two networks (so MediaPipe must give Google's result)."""
    return source.description.get("kind") == MEDIAPIPE_FULL and detector.is_googles
