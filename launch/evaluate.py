r"""Evaluates a trained model directory (or Google's weights) on a data set split.

  python -m launch.evaluate --model_dir=runs/default                 # best checkpoint, else latest
  python -m launch.evaluate --model_dir=runs/default --checkpoint=latest
  python -m launch.evaluate --model_dir=runs/default --crops=detector  # as users run the model
  python -m launch.evaluate --checkpoint=none --init_from=mediapipe_full --model_dir=/tmp/google
  python -m launch.evaluate --model_dir=runs/default --tflite=out/int8/model.tflite  # an export

--checkpoint: ``auto`` (default) the run's best checkpoint (MODEL_DIR/best, kept by the trainer
on validation PCK) when it has one, else its latest (MODEL_DIR/checkpoints); ``best``,
``latest``; a checkpoint prefix (MODEL_DIR/checkpoints/ckpt-300); or ``none`` (--init_from's
weights only). The checkpoint used (path and step) is printed.

The run describes itself (MODEL_DIR/config.json, written by launch.train; older runs:
architecture.json and phase.json): its network, keypoints, phase, crops and validation data are
the run's, so --model_dir is all it needs. --dataset, --split and --data_dir override the data;
--preset replaces the run's config (it must describe the same network).

--crops: ``gt`` (default) scores the network on the crops the training input pipeline cuts
around the labelled keypoints. ``detector`` scores it as users run it: on each record's full
image, Google's person detector (all detections after weighted NMS), MediaPipe's crop from the
detection associated with the labelled person, the landmark network with heatmap refinement
(see blazepose.evaluation for the association and for how misses count). Both report in the
pixels of the same ground-truth crops, so the figures compare; in ``detector`` mode a record
without an associated detection is a MISS and all its labelled keypoints fail PCK, and the mean
pixel error and visibility accuracy are over the detected records only.

--tflite: score a ``.tflite`` landmark network (an export of the run: ``launch.export``'s
float32, float16 or int8 file; a ``pose_landmarker.task`` bundle's landmark network; or Google's
pose_landmark_full.tflite) instead of the Keras network, on exactly the crops and through the
same decoding and metrics (:class:`blazepose.export.runtimes.TFLiteRunner` runs it, quantizing
and dequantizing an integer file's input and outputs). The run still says which crops, data and
keypoints; a file whose input shape or outputs differ from the run's network is refused.

Prints PCK@0.2 (torso), mean pixel error and visibility accuracy with a per-keypoint table (and
COCO's OKS AP in ``gt`` mode when the data set is in COCO's topology), with a progress line on
stderr, then one JSON line (``crops``, ``num_examples``, in ``detector`` mode ``detected``, and
the metrics, and ``model``: the checkpoint, the --init_from weights or the --tflite file
scored). Writes evaluation.json (``gt``) or evaluation_detector.json (``detector``) plus
TensorBoard summaries under --model_dir/evaluation; with --tflite=DIR/NAME.tflite the files are
evaluation_tflite-NAME.json and evaluation_detector_tflite-NAME.json, beside the Keras ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

import tensorflow as tf
from absl import app, flags

from blazepose import evaluation
from blazepose.export import runtimes
from blazepose.inference.pipeline import pretrained_backend
from blazepose.pretrained.importer import transfer_weights
from blazepose.train import config as config_lib
from blazepose.train import runs
from blazepose.train.task import PoseTask
from blazepose.train.trainer import Trainer
from datasets_tfds.prepare import prepare_sources

CHECKPOINT_KEYWORDS = ("auto", "best", "latest", "none")

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Training run to evaluate.", required=True)
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", "auto", "Which checkpoint of --model_dir: auto (best if the run has one, else "
    "latest), best, latest, a checkpoint prefix, or none (--init_from only).")
_CROPS = flags.DEFINE_enum("crops", "gt", ["gt", "detector"],
                           "gt: crops from the labelled keypoints (training pipeline); detector: "
                           "the person detector's crops of the full images.")
_DETECTOR = flags.DEFINE_string("detector", "mediapipe",
                                "--crops=detector: mediapipe (Google's .tflite detector) or a "
                                ".tflite / .keras / SavedModel person detector.")
_MIN_POSE_FLAG = flags.DEFINE_float("min_pose_flag", 0.0,
                                    "--crops=detector: a crop whose pose flag is below this is "
                                    "a miss (the pipeline uses 0.5; the 2-D losses never train "
                                    "the flag).", lower_bound=0.0, upper_bound=1.0)
_PRESET = flags.DEFINE_string("preset", "default", "With --checkpoint=none: the preset to "
                              "build. Otherwise only when given: replaces the run's saved config "
                              "(config.json), and must describe the same network.")
_DATASET = flags.DEFINE_list("dataset", None, "TFDS data sets (name/config[@split]).")
_SPLIT = flags.DEFINE_string("split", None, "Split to evaluate (default: the run's eval split).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_BATCHES = flags.DEFINE_integer("batches", 1000, "At most this many batches (--crops=detector: "
                                "at most batches x batch_size records).", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Batch size.", lower_bound=1)
_TFLITE = flags.DEFINE_string("tflite", None, "Score this .tflite landmark network (or the "
                              "landmark network of a .task bundle) instead of the Keras one, on "
                              "the same crops and metrics.")
_INIT_FROM = flags.DEFINE_string("init_from", None, "With --checkpoint=none: mediapipe_full or "
                                 "a .keras file.")


def _load_run(model_dir: str, which: str):
    """--checkpoint of the run --model_dir (:func:`blazepose.train.runs.load_run`): its config
    and network with that checkpoint's weights. --preset, when given, replaces the run's config
    (it must describe the same network)."""
    if which == "best" and runs.find_checkpoint(model_dir, "best", fallback=False) is None:
        raise app.UsageError(f"--model_dir={model_dir} has no best checkpoint (looked in "
                             f"{os.path.join(model_dir, 'best')})")
    if which not in CHECKPOINT_KEYWORDS and not tf.io.gfile.exists(f"{which}.index"):
        raise app.UsageError(f"--checkpoint={which}: not a checkpoint prefix (no "
                             f"{which}.index), nor one of {', '.join(CHECKPOINT_KEYWORDS)}")
    preset = config_lib.get_preset(_PRESET.value) if flags.FLAGS["preset"].present else None
    try:
        return runs.load_run(model_dir, {"auto": "best"}.get(which, which), config=preset)
    except ValueError as error:  # runs.RunError, an unknown preset
        raise app.UsageError(str(error)) from None


def _restore(trainer, run, model_dir: str) -> str:
    """The run's restored weights into the trainer's model (the same network, built in the
    same phase); says which checkpoint it was, and returns it (a checkpoint prefix, or
    ``--init_from=...``). Without a run (--checkpoint=none): --init_from, or as before the run's
    latest checkpoint when it has one."""
    if run is None:
        if trainer.restore():  # as before: a run that has checkpoints resumes its latest
            print(f"evaluating the latest checkpoint of {model_dir} (step "
                  f"{int(trainer.step.numpy())}), not --init_from: the run has checkpoints")
            return trainer.manager.latest_checkpoint
        print(f"evaluating --init_from={trainer.config.init_from} (no checkpoint)")
        return f"--init_from={trainer.config.init_from}"
    report = transfer_weights(run.model, trainer.model)
    if report.fresh:
        raise app.UsageError(f"{run.checkpoint.prefix}: layers without weights: {report.fresh}")
    trainer.step.assign(run.step or 0)
    choice = {"prefix": "given"}.get(run.checkpoint.choice, run.checkpoint.choice)
    print(f"evaluating the {choice} checkpoint {run.checkpoint.prefix} (step {run.step})")
    return str(run.checkpoint.prefix)


def _exported_model(path: str, trainer, crops: str):
    """--tflite: the file's runner, refused (a one-line UsageError naming the file) unless its
    input and the outputs this evaluation reads are those of the run's network."""
    if not tf.io.gfile.exists(path):
        raise app.UsageError(f"--tflite={path}: no such file")
    try:
        exported = runtimes.TFLiteRunner(path)
    except (ValueError, RuntimeError) as error:  # not a TFLite model, a bad .task, ...
        raise app.UsageError(f"--tflite={path}: {error}".replace("\n", " ")) from None
    keys = ["landmarks", "heatmap"]
    if crops == "detector":
        keys.append("pose_flag")
    elif trainer.config.phase == "heatmap":
        keys.append("offsets")  # decoded from the heatmap and its offsets
    try:
        evaluation.check_exported_model(exported, trainer.model, keys)
    except ValueError as error:
        raise app.UsageError(f"--tflite: {error}") from None
    print(f"evaluating {exported.source} ({exported.input_dtype.name} input) on the crops "
          "of the run's network")
    return exported


def _detector_run(config, task, landmark_model):
    """--crops=detector: the detector's crops of each evaluation record's full image, the
    landmark network ``landmark_model`` (the Keras network or an exported one's runner) on
    them."""
    if config.phase == "heatmap":
        print("note: a heatmap-phase run; detector crops are decoded as the pipeline decodes "
              "them (regressed landmarks refined by the heatmap), not by heatmap argmax")
    detector_model = (pretrained_backend("detector", "tflite") if _DETECTOR.value == "mediapipe"
                      else _DETECTOR.value)
    detector = evaluation.PersonDetector(detector_model)
    predictor = evaluation.LandmarkPredictor(landmark_model, task.topology.num_keypoints)
    evaluator = evaluation.DetectorCropEvaluator(task.topology)
    limit = _BATCHES.value * _BATCH_SIZE.value
    total = min(task.num_examples(False), limit)
    run = None
    for source in task.sources(False):
        records = evaluation.read_records(source, task.topology, config.data.pipeline.crop)
        done = 0 if run is None else run.num_examples
        part = evaluation.evaluate_with_detector(
            records.as_numpy_iterator(), predictor, detector, task.topology,
            crop_size=config.data.pipeline.crop.size, max_examples=limit - done,
            min_pose_flag=_MIN_POSE_FLAG.value, evaluator=evaluator, progress=True, total=total)
        if run is None:
            run = part
        else:
            run.num_examples += part.num_examples
            run.detected += part.detected
            run.images += part.images
            run.skipped += part.skipped
        if run.num_examples >= limit:
            break
    return run


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    which = _CHECKPOINT.value
    if which == "none" and not _INIT_FROM.value:
        raise app.UsageError("--checkpoint=none needs --init_from")

    run = None
    if which == "none":
        try:
            config = config_lib.get_preset(_PRESET.value)
        except ValueError as error:
            raise app.UsageError(str(error)) from None
    else:
        # The run's own network, keypoints, phase, crops and data (its config.json); the flags
        # below only override the data.
        run = _load_run(_MODEL_DIR.value, which)
        config = run.config
    data = config.data
    if _DATASET.value:
        data = dataclasses.replace(data, datasets=tuple(_DATASET.value), weights=(),
                                   eval_datasets=tuple(_DATASET.value))
    if _SPLIT.value:
        data = dataclasses.replace(data, eval_split=_SPLIT.value)
    if _DATA_DIR.value:
        data = dataclasses.replace(data, data_dir=_DATA_DIR.value)
    # Evaluation computes no loss: the reference network of the preserve and distillation
    # losses is not built.
    config = dataclasses.replace(config, data=data, batch_size=_BATCH_SIZE.value,
                                 eval_batches=_BATCHES.value, init_from=_INIT_FROM.value,
                                 losses=dataclasses.replace(config.losses, preserve_weight=0.0,
                                                            distill_weight=0.0))
    task = PoseTask(config)
    prepare_sources(task.sources(False), flag="--dataset")
    trainer = Trainer(config, _MODEL_DIR.value, task=task)
    model_name = _restore(trainer, run, _MODEL_DIR.value)
    crops = _CROPS.value
    exported = None
    if _TFLITE.value:
        exported = _exported_model(_TFLITE.value, trainer, crops)
        model_name = exported.source
        # The trainer's evaluation, its crops and metrics, with the file in place of the network.
        trainer.runner = evaluation.ExportedEvaluationStep(exported, task,
                                                           trainer.runner.local_parts)
    output = os.path.join(_MODEL_DIR.value, "evaluation")
    tf.io.gfile.makedirs(output)
    if crops == "gt":
        run = trainer.run_evaluation(max_batches=_BATCHES.value, progress=True)
        extra = dict(run.oks or {}, num_examples=run.num_examples)
    else:
        run = _detector_run(config, task, exported or trainer.model)
        extra = {"num_examples": run.num_examples, "detected": run.detected}
    evaluator = run.evaluator
    print(evaluator.table())
    if crops == "gt" and run.oks:
        print("COCO OKS (pycocotools): " + "  ".join(f"{k}={v:.3f}" for k, v in run.oks.items()))
    if crops == "detector":
        print(f"detector crops: found {run.detected} of {run.num_examples} people "
              f"({run.images} images); mean_pixel_error is over the detected ones only")
        if run.skipped:
            print(f"skipped {run.skipped} unusable records, as --crops=gt drops them")
    _report(evaluator, extra, crops, model_name, output, int(trainer.step.numpy()))


def _report(evaluator, extra: dict, crops: str, model_name: str, output: str, step: int) -> None:
    """Writes the report (JSON and TensorBoard summaries under ``output``) and prints its one
    JSON line; with --tflite the file names say which file was scored."""
    report = json.loads(evaluator.to_json())
    report.update(extra, crops=crops, model=model_name)
    prefix = "evaluation" if crops == "gt" else f"evaluation_{crops}"
    if _TFLITE.value:
        prefix += "_tflite-" + os.path.splitext(os.path.basename(_TFLITE.value))[0]
    with tf.io.gfile.GFile(os.path.join(output, f"{prefix}.json"), "w") as stream:
        stream.write(json.dumps(report, indent=2))
    results = {**evaluator.result(), **extra}
    writer = tf.summary.create_file_writer(output)
    with writer.as_default(step=step):
        for key, value in results.items():
            if isinstance(value, float) and value == value:
                tf.summary.scalar(f"{prefix}/{key}", value)
    writer.flush()
    scalars = {"crops": crops, "model": model_name}
    scalars.update((k, v) for k, v in results.items() if not isinstance(v, dict))
    print(json.dumps(report_numbers(scalars)))


def report_numbers(values: dict) -> dict:
    """NaN and infinities as None, so the printed line is strict JSON."""
    return {key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in values.items()}


def run():
    app.run(main)


if __name__ == "__main__":
    run()
