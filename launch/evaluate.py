r"""Evaluates a trained model directory (or Google's weights) on a data set split.

  python -m launch.evaluate --model_dir=runs/default                 # its latest checkpoint
  python -m launch.evaluate --model_dir=runs/default --checkpoint=best
  python -m launch.evaluate --init_from=mediapipe_full --model_dir=/tmp/eval_google

Prints PCK@0.2 (torso), mean pixel error and visibility accuracy with a per-keypoint table (and
COCO's OKS AP when the data set is in COCO's topology), with a progress line on stderr, and
writes evaluation.json plus TensorBoard summaries under --model_dir/evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import os

from absl import app, flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Training run to evaluate.", required=True)
_CHECKPOINT = flags.DEFINE_enum("checkpoint", "latest", ["latest", "best", "none"],
                                "Which checkpoint of --model_dir (none: --init_from only).")
_PRESET = flags.DEFINE_string("preset", "default", "Preset the run was trained with.")
_DATASET = flags.DEFINE_list("dataset", None, "TFDS data sets (name/config[@split]).")
_SPLIT = flags.DEFINE_string("split", None, "Split to evaluate (default: the preset's).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_BATCHES = flags.DEFINE_integer("batches", 1000, "At most this many batches.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Batch size.", lower_bound=1)
_INIT_FROM = flags.DEFINE_string("init_from", None, "With --checkpoint=none: mediapipe_full or "
                                 "a .keras file.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _CHECKPOINT.value == "none" and not _INIT_FROM.value:
        raise app.UsageError("--checkpoint=none needs --init_from")
    import tensorflow as tf

    from blazepose.train import config as config_lib
    from blazepose.train.task import PoseTask
    from blazepose.train.trainer import Trainer

    config = config_lib.get_preset(_PRESET.value)
    data = config.data
    if _DATASET.value:
        data = dataclasses.replace(data, datasets=tuple(_DATASET.value), weights=(),
                                   eval_datasets=tuple(_DATASET.value))
    if _SPLIT.value:
        data = dataclasses.replace(data, eval_split=_SPLIT.value)
    if _DATA_DIR.value:
        data = dataclasses.replace(data, data_dir=_DATA_DIR.value)
    config = dataclasses.replace(config, data=data, batch_size=_BATCH_SIZE.value,
                                 eval_batches=_BATCHES.value, init_from=_INIT_FROM.value)
    phase_file = os.path.join(_MODEL_DIR.value, "phase.json")
    if _CHECKPOINT.value != "none" and tf.io.gfile.exists(phase_file):
        # Decode as the run was trained (the heatmap phase reads keypoints off the heatmaps).
        with tf.io.gfile.GFile(phase_file) as stream:
            config = dataclasses.replace(config, phase=json.load(stream)["phase"])
    task = PoseTask(config)
    task.prepare_data()
    trainer = Trainer(config, _MODEL_DIR.value, task=task)
    if _CHECKPOINT.value == "best":
        path = trainer.best_manager.latest_checkpoint
        if path is None:
            raise app.UsageError(f"{_MODEL_DIR.value} has no best checkpoint")
        trainer.checkpoint.restore(path).expect_partial()
    elif _CHECKPOINT.value == "latest":
        if not trainer.restore():
            raise app.UsageError(f"{_MODEL_DIR.value} has no checkpoint")
    else:
        trainer.restore()
    run = trainer.run_evaluation(max_batches=_BATCHES.value, progress=True)
    evaluator = run.evaluator
    print(evaluator.table())
    if run.oks:
        print("COCO OKS (pycocotools): " + "  ".join(f"{k}={v:.3f}" for k, v in run.oks.items()))
    output = os.path.join(_MODEL_DIR.value, "evaluation")
    tf.io.gfile.makedirs(output)
    report = json.loads(evaluator.to_json())
    report.update(run.oks or {}, num_examples=run.num_examples)
    with tf.io.gfile.GFile(os.path.join(output, "evaluation.json"), "w") as stream:
        stream.write(json.dumps(report, indent=2))
    writer = tf.summary.create_file_writer(output)
    with writer.as_default(step=int(trainer.step.numpy())):
        for name, value in {**evaluator.result(), **(run.oks or {})}.items():
            if isinstance(value, float) and value == value:
                tf.summary.scalar(f"evaluation/{name}", value)
    writer.flush()
    scalars = {k: v for k, v in evaluator.result().items() if not isinstance(v, dict)}
    scalars.update(run.oks or {}, num_examples=run.num_examples)
    print(json.dumps(scalars))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
