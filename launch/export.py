r"""Exports a landmark network as a SavedModel, TFLite, ONNX, TF.js model or MediaPipe task
bundle, with metadata.

  python -m launch.export --model_dir=runs/default --format=saved_model --output=export/sm
  python -m launch.export --model_dir=runs/default --format=tflite --quantize=float16 \
      --output=export/tflite16
  python -m launch.export --model=mediapipe_full --format=tflite --quantize=int8 \
      --output=export/int8 --representative_dataset=synthetic_pose/small
  python -m launch.export --model=full.keras --format=onnx --output=export/onnx
  python -m launch.export --model_dir=runs/default --format=tfjs --with_preprocessing \
      --output=export/web && python -m launch.serve_web --model_dir=export/web
  python -m launch.export --model_dir=runs/default --format=mediapipe_task \
      --quantize=float16 --output=export/task    # -> export/task/pose_landmarker.task

--model_dir is a training run (python -m launch.train --model_dir): the network its config.json
describes (older runs: architecture.json), so no other flag describes it. --checkpoint picks one
of its checkpoints: best (default: RUN/best, kept by the trainer's keep-best on validation PCK,
else the latest), latest (RUN/checkpoints) or a prefix (RUN/checkpoints/ckpt-300). Alone,
--checkpoint may name the run directory or a prefix, as before. The program prints which
checkpoint (path and step) and metadata.json records it under source.checkpoint ("best",
"latest" or "prefix") and source.step. --preset and --variant, when given, replace the run's
config, and a run of another architecture is refused with what differs. --model is a .keras
file or mediapipe_full (Google's weights). Every flag, the source and the output folder are
checked before any file is written; by default the export is then run in its own runtime on a
photograph (plus held-out calibration crops for int8) and must agree with the Keras model
(--noverify skips that).

--format=mediapipe_task writes pose_landmarker.task for MediaPipe's PoseLandmarker (Python,
Android, iOS, web): the landmark network (33-landmark BlazePose topology; float32 or float16)
and Google's person detector (--detector: another .tflite or a .keras detector from
launch.convert_mediapipe), with the TFLite metadata MediaPipe requires. Unless --noverify, the
bundle is also run in MediaPipe's own PoseLandmarker (mediapipe 1.2.2 in a side environment made
once under the cache folder, or --mediapipe_python) in IMAGE and VIDEO modes on a photograph,
beside Google's own files bundled the same way; an export of Google's weights must give
Google's landmarks. The figures go into metadata.json under "mediapipe".
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import tensorflow as tf
from absl import app, flags

from blazepose.data.pipeline import DataSource
from blazepose.export import ExportConfig, ExportError, exporter, representative, sources
from blazepose.export.config import SUPPORTED_QUANTIZATIONS, VerificationError
from blazepose.export.exporter import photo_crops
from blazepose.samples import fetch_sample
from blazepose.train import config as config_lib
from blazepose.train import runs
from blazepose.train.runs import RunError
from datasets_tfds.prepare import prepare

FORMATS = ("saved_model", "tflite", "onnx", "tfjs", "mediapipe_task")
QUANTIZATIONS = ("none", "float16", "int8")

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Training run to export (python -m "
                                 "launch.train --model_dir): the network its config.json "
                                 "describes, with --checkpoint's weights.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "With --model_dir: best (default: the best "
                                  "checkpoint, else the latest), latest or a checkpoint prefix. "
                                  "Alone: a training run directory (its best checkpoint, else "
                                  "its latest) or a checkpoint prefix.")
_MODEL = flags.DEFINE_string("model", None, "A .keras file, or mediapipe_full (Google's weights).")
_FORMAT = flags.DEFINE_enum("format", None, FORMATS, "Export format.", required=True)
_OUTPUT = flags.DEFINE_string("output", None, "Folder to create.", required=True)
_QUANTIZE = flags.DEFINE_enum("quantize", "none", QUANTIZATIONS,
                              "tflite: none|float16|int8; mediapipe_task: none|float16|int8 "
                              "(int8 of a quantisation-aware run); tfjs: none|float16; "
                              "others: none.")
_WITH_PREPROCESSING = flags.DEFINE_bool("with_preprocessing", False,
                                        "The model takes a uint8 image of any size, resizes and "
                                        "normalises it inside, and returns decoded landmarks.")
_INT8_INPUT = flags.DEFINE_enum("int8_input", "float32", ["float32", "uint8"],
                                "--format=tflite --quantize=int8 of a quantisation-aware run: "
                                "the input tensor (float32 crop in [0, 1], or uint8 pixels).")
_REQUIRE_QAT = flags.DEFINE_bool("require_qat", False, "--quantize=int8 only from a "
                                 "quantisation-aware run (python -m launch.train --preset=qat): "
                                 "refuse post-training calibration.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing --output folder.")
_PRESET = flags.DEFINE_string("preset", "default", "Only when given: the training preset to "
                              "build instead of the run's saved config.json (it must describe "
                              "the same network; for runs that recorded none).")
_VARIANT = flags.DEFINE_enum("variant", None, ["lite", "full", "heavy"],
                             "Only when given: the network variant instead of the run's (as "
                             "launch.train; it must be the run's).")
_TOPOLOGY = flags.DEFINE_string("topology", None, "Keypoint topology of a --model .keras file "
                                "(default: blazepose_33 for 39 landmark outputs).")
_REPRESENTATIVE = flags.DEFINE_string("representative_dataset", None,
                                      "TFDS data set (name/config) calibrating int8 (default: "
                                      "the run's first data set).")
_REPRESENTATIVE_SPLIT = flags.DEFINE_string("representative_split", "train",
                                            "Split of --representative_dataset.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_CALIBRATION_IMAGES = flags.DEFINE_integer("calibration_images", 64,
                                           "Crops calibrating int8.", lower_bound=1)
_VERIFY = flags.DEFINE_bool("verify", True, "Run the export in its runtime and compare it with "
                            "the Keras model before keeping it (mediapipe_task: also run it in "
                            "MediaPipe's PoseLandmarker beside Google's models).")
_DETECTOR = flags.DEFINE_string("detector", None, "mediapipe_task: the person detector to bundle, "
                                "a .tflite file or a .keras detector (python -m "
                                "launch.convert_mediapipe --model=detector); default: Google's "
                                "pose_detection.tflite (mediapipe 0.10.21).")
_MEDIAPIPE_PYTHON = flags.DEFINE_string("mediapipe_python", None, "mediapipe_task: a Python "
                                        "interpreter with mediapipe installed to check the "
                                        "bundle in; default: a side environment made once "
                                        "(pip install mediapipe==1.2.2, ~1 minute).")

_HELD_OUT = 8  # representative crops kept out of calibration, to verify int8 on


@flags.multi_flags_validator(["model_dir", "checkpoint", "model"],
                             message="give exactly one of --model_dir (or --checkpoint) and "
                                     "--model")
def _one_source(values):
    run = values["model_dir"] is not None or values["checkpoint"] is not None
    return run != (values["model"] is not None)


@flags.multi_flags_validator(["format", "quantize"],
                             message="--quantize is not available for that --format: tflite "
                                     "and mediapipe_task take none|float16|int8, tfjs "
                                     "none|float16, saved_model and onnx none")
def _quantization_supported(values):
    return values["format"] is None or values["quantize"] in SUPPORTED_QUANTIZATIONS.get(
        values["format"], ())


@flags.multi_flags_validator(["format", "detector", "mediapipe_python"],
                             message="--detector and --mediapipe_python apply to "
                                     "--format=mediapipe_task only")
def _task_flags_need_task(values):
    return values["format"] == "mediapipe_task" or (values["detector"] is None and
                                                    values["mediapipe_python"] is None)


@flags.multi_flags_validator(["model", "variant", "preset"],
                             message="--variant and --preset describe a --model_dir run; a "
                                     "--model file carries its own architecture")
def _variant_needs_checkpoint(values):
    return values["model"] is None or (values["variant"] is None
                                       and values["preset"] == "default")


@flags.multi_flags_validator(["model", "topology"],
                             message="--topology describes a --model file; a run's topology is "
                                     "in its config.json")
def _topology_needs_model(values):
    return values["model"] is not None or values["topology"] is None


def _run_checkpoint() -> tuple[str, str]:
    """``(run directory, checkpoint)`` to read from --model_dir and --checkpoint."""
    if _MODEL_DIR.value is None:  # --checkpoint alone: a run directory or a prefix
        model_dir, checkpoint = sources.resolve_checkpoint(_CHECKPOINT.value)
        return str(model_dir), checkpoint
    checkpoint = _CHECKPOINT.value or "best"
    if checkpoint == "auto":
        checkpoint = "best"
    return _MODEL_DIR.value, checkpoint


def train_config(model_dir: str):
    """The config to build instead of the run's own, from --preset and --variant (None when
    neither is given: the run's config.json describes its network)."""
    if not flags.FLAGS["preset"].present and _VARIANT.value is None:
        return None
    if flags.FLAGS["preset"].present:
        try:
            config = config_lib.get_preset(_PRESET.value)
        except ValueError as error:
            raise ExportError(f"--preset: {error}") from None
    else:
        config = runs.run_config(model_dir) or config_lib.get_preset("default")
    if _VARIANT.value is not None:
        config = dataclasses.replace(config, model=dataclasses.replace(
            config.model, variant=_VARIANT.value))
    return config


def _load_source():
    """The model to export and the training config describing its data and crops."""
    if _MODEL.value is None:
        model_dir, checkpoint = _run_checkpoint()
        source = sources.from_run(model_dir, checkpoint, train_config(model_dir))
        return source, source.train_config
    if _MODEL.value == sources.MEDIAPIPE_FULL:
        source = sources.from_mediapipe()
    else:
        source = sources.from_keras_file(_MODEL.value, _TOPOLOGY.value)
    config = config_lib.get_preset("default")
    config = dataclasses.replace(config, data=dataclasses.replace(
        config.data, pipeline=dataclasses.replace(config.data.pipeline,
                                                  topology=source.topology.name)))
    return source, config


def _crops(config, export_config, quantization_aware: bool):
    """(calibration crops or None, verification crops or None). A quantisation-aware run
    needs no calibration; its int8 export is verified on held-out crops of its data too."""
    calibration, held_out = None, np.zeros((0, 256, 256, 3), np.float32)
    if export_config.quantize == "int8":
        name = _REPRESENTATIVE.value or config.data.datasets[0]
        source = DataSource(name, _REPRESENTATIVE_SPLIT.value,
                            data_dir=_DATA_DIR.value or config.data.data_dir)
        try:
            prepare(source.name, source.data_dir, source.split, flag="--representative_dataset")
        except ValueError as error:
            raise app.UsageError(str(error)) from None
        crops = representative.representative_crops(
            source, export_config.calibration_images + _HELD_OUT, config.data.pipeline)
        if len(crops) <= _HELD_OUT:
            raise app.UsageError(f"--representative_dataset {name}: only {len(crops)} crops, "
                                 f"need more than {_HELD_OUT}")
        calibration, held_out = crops[:-_HELD_OUT], crops[-_HELD_OUT:]
        if quantization_aware:
            calibration = None
    if not _VERIFY.value:
        return calibration, None

    photo = tf.io.decode_image(tf.io.read_file(str(fetch_sample("astronaut"))), channels=3)
    return calibration, np.concatenate([photo_crops(photo.numpy()), held_out])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")

    try:
        export_config = ExportConfig(_FORMAT.value, _QUANTIZE.value, _WITH_PREPROCESSING.value,
                                     calibration_images=_CALIBRATION_IMAGES.value,
                                     int8_input=_INT8_INPUT.value,
                                     require_qat=_REQUIRE_QAT.value, detector=_DETECTOR.value)
        exporter.check_output(_OUTPUT.value, _OVERWRITE.value)
        source, config = _load_source()
        if _MODEL.value is None:
            described = source.description
            which = described["checkpoint"]
            which = "" if which == "prefix" else f"the run's {which} "
            print(f"exporting {which}checkpoint {described['path']} (step {described['step']})")
            for prefix, reason in described.get("skipped_damaged", ()):
                print(f"WARNING: skipped the damaged newer checkpoint {prefix} ({reason})")
        aware = exporter.check_int8_source(source, export_config)
        calibration, verify_crops = _crops(config, export_config, aware)
        result = exporter.export_model(source, _OUTPUT.value, export_config,
                                       overwrite=_OVERWRITE.value, representative=calibration,
                                       verify_crops=verify_crops,
                                       check_in_mediapipe=_VERIFY.value,
                                       mediapipe_python=_MEDIAPIPE_PYTHON.value)
    except (ExportError, RunError) as error:  # RunError: a run that cannot be read or fit
        raise app.UsageError(str(error)) from None
    except VerificationError as error:
        raise SystemExit(f"export refused, nothing kept in {_OUTPUT.value}: {error}\n"
                         "(--noverify keeps an export that fails these checks)") from None
    _report(result)


def _report(result) -> None:
    """Prints what was written and the verification figures."""
    print(f"wrote {result.directory}: {', '.join(result.metadata['files'])}")
    verification = result.metadata.get("verification")
    if verification:
        print("agreement with the Keras model on", verification["inputs"], "inputs:",
              json.dumps({k: v for k, v in verification.items()
                          if k.startswith("landmark") or k == "pose_flag"}))
    quantized = result.metadata.get("int8_accuracy")
    if quantized:
        print("int8 vs the float twin of the same checkpoint:", json.dumps(quantized["vs_float"]))
        print("layers with the largest int8 error (relative RMS; own step):", ", ".join(
            f"{row['layer']} {row['relative_error']:.3f} ({row['step']:.3f})"
            for row in quantized["layers"][:6]))
    if "tensorrt" in result.metadata:
        print("TensorRT:", result.metadata["tensorrt"])
    if "bundle" in result.metadata:
        print(f"{result.model_path}: {result.metadata['bundle']['bytes']} bytes")
    mediapipe = result.metadata.get("mediapipe")
    if mediapipe:
        print(f"{mediapipe['runtime']} vs Google's files, {mediapipe['photo']['sample']} "
              f"{mediapipe['photo']['shape'][1]}x{mediapipe['photo']['shape'][0]} (image px):")
        for mode in ("image", "video"):
            print(f"  {mode}:", json.dumps(mediapipe[mode]))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
