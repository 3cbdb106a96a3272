"""One export, start to finish: checks, SavedModel, conversion, verification, metadata.

Everything is written into a scratch folder beside the output and moved into place only after
the export was converted and (when asked) verified in its own runtime, so a failed export leaves
nothing behind and an existing export is replaced only with ``overwrite``. A ``mediapipe_task``
export is in addition run in MediaPipe's own ``PoseLandmarker`` (:mod:`task_export`).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from blazepose.export import converters, mediapipe_task, runtimes, saved_model, task_export
from blazepose.export import metadata as metadata_lib
from blazepose.export.config import (
                                     IMAGE_SIGNATURE,
                                     INT8_TASK_REFUSAL,
                                     ExportConfig,
                                     ExportError,
                                     VerificationError,
)
from blazepose.export.representative import as_uint8
from blazepose.export.sources import ModelSource
from blazepose.model import quantization

MODEL_FILES = {"tflite": "model.tflite", "onnx": "model.onnx", "tfjs": "model.json",
               "saved_model": "saved_model.pb", "mediapipe_task": mediapipe_task.TASK_FILE}


@dataclasses.dataclass(frozen=True)
class ExportResult:
    directory: pathlib.Path
    config: ExportConfig
    metadata: dict

    @property
    def model_path(self) -> pathlib.Path:
        """The file a runtime opens (for a SavedModel or TF.js model, load the folder)."""
        return self.directory / MODEL_FILES[self.config.format]


def check_output(output_dir: os.PathLike, overwrite: bool) -> pathlib.Path:
    """Raises :class:`ExportError` when ``output_dir`` cannot receive an export."""
    output = pathlib.Path(output_dir).absolute()
    if output.exists() and not output.is_dir():
        raise ExportError(f"--output {output} exists and is not a folder")
    if output.exists() and not overwrite:
        raise ExportError(f"--output {output} exists; pass --overwrite to replace it")
    return output


def verification_inputs(crops: np.ndarray, signature: str) -> np.ndarray:
    """What the runtimes are fed: the crops, or for ``serve_image`` uint8 images of another
    size (192x192) so that the in-graph resize is exercised."""
    if signature != IMAGE_SIGNATURE:
        return crops.astype(np.float32)
    resized = tf.image.resize(crops, (192, 192), method="bilinear").numpy()
    return as_uint8(resized)


def photo_crops(photo: np.ndarray) -> np.ndarray:
    """Three realistic float32 crops ``[3, 256, 256, 3]`` of a uint8 RGB photograph of a person:
    the whole picture resized, mirrored, and its centre 80 % zoomed in (checks run on real
    pictures: random pixels drive the heads to extremes no deployment sees)."""
    image = tf.convert_to_tensor(photo[..., :3], tf.float32) / 255.0
    whole = tf.image.resize(image, (256, 256))
    zoomed = tf.image.resize(tf.image.central_crop(image, 0.8), (256, 256))
    return tf.stack([whole, whole[:, ::-1], zoomed]).numpy().astype(np.float32)


def runner_for(config: ExportConfig, directory: pathlib.Path, node_modules=None
               ) -> runtimes.Runner:
    if config.format == "saved_model":
        return runtimes.saved_model_runner(directory, config.signature)
    if config.format == "tflite":
        return runtimes.tflite_runner(directory / MODEL_FILES["tflite"])
    if config.format == "onnx":
        return runtimes.onnx_runner(directory / MODEL_FILES["onnx"])
    if config.format == "mediapipe_task":
        return runtimes.task_landmark_runner(directory / MODEL_FILES["mediapipe_task"])
    return runtimes.tfjs_runner(directory, node_modules)


def verify(source: ModelSource, config: ExportConfig, directory: pathlib.Path,
           crops: np.ndarray, node_modules=None, quantization_aware: bool = False) -> dict:
    """Runs the export in its runtime and the Keras model on the same inputs.

    For the int8 export of a quantisation-aware network the Keras model is that network (it
    simulates the int8 arithmetic), with the ``int8_qat`` tolerances.

    Returns the :func:`runtimes.compare` statistics plus ``inputs`` (count) and ``precision``.
    Raises :class:`VerificationError` when a tolerance of ``runtimes.TOLERANCES`` is exceeded.
    """
    precision = "int8_qat" if quantization_aware else config.precision
    inputs = verification_inputs(crops, config.signature)
    candidate = runner_for(config, directory, node_modules)(inputs)
    reference = runtimes.reference_runner(source.model, config.signature)(inputs)
    if config.format == "mediapipe_task":  # the bundle leaves out what MediaPipe does not read
        reference = {k: v for k, v in reference.items()
                     if k in mediapipe_task.KERAS_LANDMARK_OUTPUTS}
    stats = runtimes.compare(candidate, reference, config.signature,
                             source.topology.num_keypoints)
    problems = runtimes.violations(stats, precision)
    if problems:
        raise VerificationError(f"the {config.format} export ({config.quantize}) disagrees with "
                                f"the Keras model: {'; '.join(problems)}")
    return {"inputs": int(len(inputs)), "precision": precision,
            "tolerances": runtimes.TOLERANCES[precision], **stats}


def quantization_report(source: ModelSource, config: ExportConfig, directory: pathlib.Path,
                        crops: np.ndarray, worst: int = 12) -> dict:
    """How far the int8 export of a quantisation-aware network is from its float twin (the
    same checkpoint in float32) on ``crops``, and which layers cost the accuracy.

    Returns ``{"vs_float": {...}, "layers": [...]}``: ``vs_float`` the x, y distance of the
    first K landmarks in 256-crop pixels (mean, max), pose flags on each side of 0.5 that
    differ, the median world-landmark distance in centimetres; ``layers`` the ``worst``
    layers by the relative RMS difference of their output between the quantised Keras network
    and its float twin (where error accumulates) with their int8 step.
    """
    twin = quantization.float_twin(source.model)
    inputs = verification_inputs(crops, config.signature)
    candidate = runner_for(config, directory)(inputs)
    reference = runtimes.reference_runner(twin, config.signature)(inputs)
    k = source.topology.num_keypoints
    report = {"inputs": int(len(inputs))}
    if "landmarks" in candidate and "landmarks" in reference:
        ours, theirs = np.asarray(candidate["landmarks"]), np.asarray(reference["landmarks"])
        pixels = np.linalg.norm(ours[:, :k, :2] - theirs[:, :k, :2], axis=-1)
        report["landmark_pixel_error_mean"] = round(float(pixels.mean()), 3)
        report["landmark_pixel_error_max"] = round(float(pixels.max()), 3)
    if "pose_flag" in candidate and "pose_flag" in reference:
        flags = np.asarray(candidate["pose_flag"]).reshape(-1) >= 0.5
        report["pose_flag_decisions_differ"] = int(np.sum(
            flags != (np.asarray(reference["pose_flag"]).reshape(-1) >= 0.5)))
    if "world_landmarks" in candidate and "world_landmarks" in reference:
        world = np.linalg.norm(np.asarray(candidate["world_landmarks"])[:, :k]
                               - np.asarray(reference["world_landmarks"])[:, :k], axis=-1)
        report["world_landmark_cm_median"] = round(100 * float(np.median(world)), 3)
    layers = quantization.layer_errors(twin, source.model, crops)
    return {"vs_float": report, "layers": layers[:worst]}


def _representative_fn(crops: np.ndarray, signature: str):
    inputs = verification_inputs(crops, signature) if signature == IMAGE_SIGNATURE else crops

    def generate():
        for example in inputs:
            yield example[np.newaxis]

    return generate


def export_model(source: ModelSource, output_dir: os.PathLike, config: ExportConfig, *,
                 overwrite: bool = False, saved_model_dir: os.PathLike | None = None,
                 representative: np.ndarray | None = None,
                 verify_crops: np.ndarray | None = None, node_modules=None,
                 check_in_mediapipe: bool = True, mediapipe_python: os.PathLike | None = None,
                 print_fn=print) -> ExportResult:
    """Exports ``source`` in ``config.format`` into ``output_dir`` with ``metadata.json``.

    Args:
      saved_model_dir: an existing SavedModel of the same model (from an earlier export) to
        convert from; default: one is written to a scratch folder first.
      representative: float32 crops ``[n, 256, 256, 3]`` calibrating ``int8`` (required then).
      verify_crops: float32 crops; when given, the export is run in its runtime on them and
        compared with the Keras model (``runtimes.TOLERANCES``), and the figures are recorded in
        the metadata under ``verification`` (for ``mediapipe_task``: the landmark network inside
        the bundle, in the TFLite interpreter).
      node_modules: the npm packages for the TF.js check (default ``web_assets``'s cache).
      check_in_mediapipe: ``mediapipe_task`` only: run the bundle in MediaPipe's
        ``PoseLandmarker`` (IMAGE and VIDEO modes, a photograph) beside Google's own files and
        record the figures under ``mediapipe`` (:func:`task_export.verify_in_mediapipe`).
      mediapipe_python: an interpreter with mediapipe installed; default: MediaPipe's side
        environment (made once, :func:`blazepose.mediapipe_runtime.environment.ensure_python`).

    Raises:
      ExportError: bad request (before any file is written), or MediaPipe refused the bundle
        (nothing is written).
      VerificationError: the export disagrees with the Keras model, or in MediaPipe with
        Google's models (nothing is written).
      converters.ConversionError: a converter failed (nothing is written).
    """
    output = check_output(output_dir, overwrite)
    source, quantization_aware = _check_quantization(source, config, representative, print_fn)
    detector = _check_task_request(source, config)
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    work = pathlib.Path(tempfile.mkdtemp(prefix=".blazepose-export-", dir=output.parent))
    try:
        extra: dict = {}
        if config.format == "saved_model":
            print_fn(f"writing the SavedModel into {output}")
            os.rmdir(scratch)  # ExportArchive creates the folder itself
            saved_model.write_saved_model(source.model, scratch)
        else:
            if saved_model_dir is None:
                saved_model_dir = work / "saved_model"
                print_fn("writing the SavedModel to convert from")
                saved_model.write_saved_model(source.model, saved_model_dir)
            print_fn(f"converting {config.signature} to {config.format} ({config.quantize})")
            extra.update(_convert(config, saved_model_dir, scratch, work, representative,
                                  detector, source.model, quantization_aware))
        if verify_crops is not None:
            print_fn(f"verifying the {config.format} export in its runtime")
            extra["verification"] = verify(source, config, scratch, verify_crops, node_modules,
                                           quantization_aware)
            if quantization_aware:
                extra["int8_accuracy"] = quantization_report(source, config, scratch,
                                                            verify_crops)
        if detector is not None and check_in_mediapipe:
            print_fn("running the bundle in MediaPipe's PoseLandmarker (IMAGE and VIDEO modes)")
            extra["mediapipe"] = task_export.verify_in_mediapipe(
                scratch / MODEL_FILES["mediapipe_task"],
                task_export.google_bundle(work / "google.task"), task_export.check_photo(),
                strict=task_export.is_googles_network(source, detector), python=mediapipe_python)
        files = [str(p.relative_to(scratch)) for p in sorted(scratch.rglob("*")) if p.is_file()]
        metadata = metadata_lib.build_metadata(source, config, files + [
            metadata_lib.METADATA_FILE], extra)
        metadata_lib.write_metadata(scratch, metadata)
        if output.exists():
            shutil.rmtree(output)
        os.replace(scratch, output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return ExportResult(output, config, metadata)


def _check_quantization(source: ModelSource, config: ExportConfig,
                        representative: np.ndarray | None, print_fn) -> tuple[ModelSource, bool]:
    """``(source to convert, whether int8 uses the network's own quantisation-aware ranges)``.

    A quantisation-aware network exported in float (``none``/``float16``) is exported as its
    float twin (the same weights, no rounding).

    Raises:
      ExportError: post-training int8 without representative crops, ``require_qat`` of a
        float network, or a MediaPipe bundle in int8 of a float network.
    """
    aware = check_int8_source(source, config)
    if config.quantize != "int8":
        if aware:
            print_fn("a quantisation-aware network: exporting its float twin (the same weights "
                     f"without rounding) as {config.precision}")
            source = dataclasses.replace(source, model=quantization.float_twin(source.model))
        return source, False
    if not aware and (representative is None or not len(representative)):
        raise ExportError("post-training --quantize=int8 needs representative crops "
                          "(--representative_dataset)")
    return source, aware


def check_int8_source(source: ModelSource, config: ExportConfig) -> bool:
    """Whether ``source`` is a quantisation-aware network; raises :class:`ExportError` when
    ``config`` asks int8 of a float network with ``require_qat`` or in a MediaPipe bundle."""
    aware = quantization.is_quantized(source.model)
    if config.quantize == "int8" and not aware:
        what = source.description.get("path") or source.description.get("kind")
        if config.require_qat:
            raise ExportError(f"--require_qat: {what} is not a quantisation-aware network "
                              "(its run's config has model.quantized false); train one with "
                              "python -m launch.train --preset=qat --init_from=... first")
        if config.format == "mediapipe_task":
            raise ExportError(INT8_TASK_REFUSAL)
    return aware


def _check_task_request(source: ModelSource, config: ExportConfig
                        ) -> task_export.DetectorSource | None:
    """For ``mediapipe_task``: checks the network and resolves the detector (before any file is
    written); None for the other formats."""
    if config.format != "mediapipe_task":
        return None
    task_export.check_source(source)
    return task_export.resolve_detector(config.detector)


def _convert(config: ExportConfig, saved_model_dir: os.PathLike, scratch: pathlib.Path,
             work: pathlib.Path, representative: np.ndarray | None,
             detector: task_export.DetectorSource | None, source_model,
             quantization_aware: bool) -> dict:
    """Converts the SavedModel into ``scratch``; returns what the metadata records of it."""
    if config.format == "tflite" and quantization_aware:
        kept = quantization.float_layers(source_model)
        converters.convert_tflite(saved_model_dir, scratch / MODEL_FILES["tflite"],
                                  config.signature, "int8", quantization_aware=True,
                                  int8_input=config.int8_input, all_integer=not kept)
        return {"int8": {"kind": "quantisation-aware", "input": config.int8_input,
                         "float_layers": kept}}
    if config.format == "tflite":
        converters.convert_tflite(
            saved_model_dir, scratch / MODEL_FILES["tflite"], config.signature, config.quantize,
            None if representative is None else _representative_fn(
                representative[:config.calibration_images], config.signature))
        if config.quantize == "int8":
            return {"calibration": {"crops": int(min(len(representative),
                                                     config.calibration_images))}}
        return {}
    if config.format == "onnx":
        converters.convert_onnx(saved_model_dir, scratch / MODEL_FILES["onnx"],
                                config.signature, config.onnx_opset)
        return {"tensorrt": tensorrt_command(MODEL_FILES["onnx"], config)}
    if config.format == "mediapipe_task":
        return {"bundle": task_export.write_bundle(
            scratch / MODEL_FILES["mediapipe_task"], saved_model_dir, detector, work,
            config.quantize)}
    converters.convert_tfjs(saved_model_dir, scratch, config.signature, config.quantize)
    return {}


def tensorrt_command(onnx_file: str, config: ExportConfig) -> str:
    """The ``trtexec`` command that builds a TensorRT engine from the ONNX export.

    TensorRT is not run here (no GPU); the command is the documented path: FP16 engine, batch
    1 to 16 with 1 as the optimisation point, NHWC input named ``image``.
    """
    if config.with_preprocessing:
        shapes = ("--minShapes=image:1x64x64x3 --optShapes=image:1x256x256x3 "
                  "--maxShapes=image:16x1024x1024x3")
    else:
        shapes = ("--minShapes=image:1x256x256x3 --optShapes=image:1x256x256x3 "
                  "--maxShapes=image:16x256x256x3")
    return f"trtexec --onnx={onnx_file} --saveEngine=model.plan --fp16 {shapes}"
