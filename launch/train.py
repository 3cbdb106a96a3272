r"""Trains a BlazePose network. With no flags: the README's main job (synthetic data, CPU-sized).

  python -m launch.train                                   # default preset, ./runs/default
  python -m launch.train --flagfile=launch/configs/finetune_mediapipe.cfg --model_dir=runs/ft
  python -m launch.train --strategy=mirrored --num_cpu_devices=2 --batch_size=32

Flags select a preset (an experiment function registered in blazepose.train.config, returning a
typed config) and override its fields; every flag is checked before any work starts. Resumes
from --model_dir's checkpoints automatically. Leaves config.json (the resolved config, which
evaluate, export and run_video read back), checkpoints, TensorBoard logs (train/, validation/),
validation.json and predictions.png in --model_dir.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf
from absl import app, flags

from blazepose import topology as topology_lib
from blazepose.train import config as config_lib
from blazepose.train.task import PoseTask
from blazepose.train.trainer import Trainer, make_strategy
from datasets_tfds.prepare import prepare_sources

_PRESET = flags.DEFINE_string("preset", "default", "Experiment to start from: a function "
                              "registered with @register_preset in blazepose.train.config "
                              "(default, finetune, scratch, ...); the other flags override it.")
_MODEL_DIR = flags.DEFINE_string("model_dir", "runs/default", "Checkpoints and logs.")
_DATASET = flags.DEFINE_list("dataset", None, "TFDS data sets (name/config[@split]), "
                             "comma-separated; several are mixed in BlazePose's 33 landmarks.")
flags.DEFINE_alias("datasets", "dataset")
_DATASET_WEIGHTS = flags.DEFINE_list("dataset_weights", None, "Mixing weights, one per data set.")
_EVAL_DATASET = flags.DEFINE_list("eval_dataset", None, "Data sets to validate on "
                                  "(name/config[@split]; default: --dataset's eval split).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", None, "Steps to train to.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Global batch size.", lower_bound=1)
_STRATEGY = flags.DEFINE_enum("strategy", None,
                              ["default", "mirrored", "multi_worker_mirrored", "tpu"],
                              "tf.distribute strategy.")
_NUM_CPU_DEVICES = flags.DEFINE_integer("num_cpu_devices", None,
                                        "Split the CPU into this many logical devices (for "
                                        "--strategy=mirrored without GPUs).", lower_bound=1)
_PHASE = flags.DEFINE_enum("phase", None, ["heatmap", "regression", "joint"], "Training phase.")
_INIT_FROM = flags.DEFINE_string("init_from", None,
                                 "mediapipe_full (Google's weights), a .keras file, or none.")
_DATA_SERVICE = flags.DEFINE_string("data_service", None,
                                    "grpc://host:port of a tf.data service dispatcher "
                                    "(python -m launch.data_service) for preprocessing.")
_PROFILE_STEPS = flags.DEFINE_list("profile_steps", None,
                                   "first,last: write a profiler trace of those steps.")
_VARIANT = flags.DEFINE_enum("variant", None, ["lite", "full", "heavy"], "Network variant.")
_TOPOLOGY = flags.DEFINE_string("topology", None,
                                "Train the network's keypoints in this registered topology "
                                "(e.g. coco_17, pushup_7) instead of BlazePose's 33: the data "
                                "sets must be in it; from Google's weights each keypoint's "
                                "heads start from its BlazePose counterpart.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", None, "Peak learning rate.", lower_bound=0)
_OPTIMIZER = flags.DEFINE_enum("optimizer", None, ["adam", "adamw", "sgd"], "Optimizer.")
_SCHEDULE = flags.DEFINE_enum("schedule", None, ["cosine", "step", "constant"], "LR schedule.")
_TRUNK_FACTOR = flags.DEFINE_float("trunk_learning_rate_factor", None,
                                   "The pretrained encoder's learning rate over the heads'.",
                                   lower_bound=0)
_TRUNK_FROZEN = flags.DEFINE_float("trunk_frozen_fraction", None,
                                   "Fraction of --train_steps before the encoder starts to learn.",
                                   lower_bound=0, upper_bound=1)
_EMA = flags.DEFINE_float("ema_momentum", None, "Validate and keep a moving average of the "
                          "weights with this momentum (0: off).", lower_bound=0, upper_bound=0.9999)
_MIXED_PRECISION = flags.DEFINE_bool("mixed_precision", None, "float16 compute, loss scaling.")
_XLA = flags.DEFINE_bool("xla", None, "jit_compile the train step (GPUs; slow on CPU).")
_RUN_EAGERLY = flags.DEFINE_bool("run_eagerly", None, "No tf.function (debugging).")
_DETERMINISTIC = flags.DEFINE_bool("deterministic", None, "Deterministic ops, seeds and data.")
_SEED = flags.DEFINE_integer("seed", None, "Random seed.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", None, "Steps between validations.", lower_bound=1)
_EVAL_BATCHES = flags.DEFINE_integer("eval_batches", None, "Batches per validation.",
                                     lower_bound=1)
_CHECKPOINT_EVERY = flags.DEFINE_integer("checkpoint_every", None, "Steps between checkpoints.",
                                         lower_bound=1)
_LOG_EVERY = flags.DEFINE_integer("log_every", None, "Steps between console lines.", lower_bound=1)
_STEPS_PER_LOOP = flags.DEFINE_integer("steps_per_loop", None, "Training steps per traced loop "
                                       "(one host sync each).", lower_bound=1)
_HEATMAP_LOSS = flags.DEFINE_enum("heatmap_loss", None, ["bce", "focal", "mse"], "Heatmap loss.")
_REGRESSION_LOSS = flags.DEFINE_enum("regression_loss", None, ["huber", "wing", "l1"],
                                     "Landmark regression loss.")
_PRESERVE_WEIGHT = flags.DEFINE_float("preserve_weight", None,
                                      "Weight of the loss keeping the pose flag and world "
                                      "landmarks at the --init_from network's values (0: off).",
                                      lower_bound=0)
_DISTILL_WEIGHT = flags.DEFINE_float(
    "distill_weight", None, "Weight of the loss matching every output to a frozen float copy "
    "of the --init_from network (quantisation-aware training; 0: off).", lower_bound=0.0)
_KEEP_FLOAT = flags.DEFINE_list(
    "keep_float", None, "Quantisation-aware runs (--preset=qat): layers kept in float32 in the "
    "int8 export (mixed precision): names or patterns, e.g. 'reg*'.")


_LOSS_SPIKE_RATIO = flags.DEFINE_float(
    "loss_spike_ratio", None, "Stop when one step's total loss exceeds this many times the "
    "running median of recent losses (an exploding loss, e.g. a label far outside its image); "
    "0: off.", lower_bound=0)


@flags.multi_flags_validator(["strategy", "num_cpu_devices"],
                             message="--num_cpu_devices needs --strategy=mirrored")
def _cpu_devices_need_mirrored(values):
    return values["num_cpu_devices"] is None or values["strategy"] == "mirrored"


@flags.validator("profile_steps", message="--profile_steps takes two step numbers: first,last")
def _profile_steps_valid(value):
    if value is None:
        return True
    try:
        first, last = (int(v) for v in value)
    except ValueError:
        return False
    return 0 < first <= last


@flags.multi_flags_validator(["dataset", "dataset_weights"],
                             message="--dataset_weights needs one number per --dataset")
def _weights_match(values):
    weights = values["dataset_weights"]
    if weights is None:
        return True
    try:
        numbers = [float(w) for w in weights]
    except ValueError:
        return False
    return values["dataset"] is not None and len(numbers) == len(values["dataset"]) and all(
        w >= 0 for w in numbers)


def config_from_flags():
    """The preset with the flags that were given applied; raises ValueError when invalid."""
    config = config_lib.get_preset(_PRESET.value)
    overrides = {name: flag.value for name, flag in {
        "train_steps": _TRAIN_STEPS, "batch_size": _BATCH_SIZE, "strategy": _STRATEGY,
        "num_cpu_devices": _NUM_CPU_DEVICES, "phase": _PHASE, "init_from": _INIT_FROM,
        "mixed_precision": _MIXED_PRECISION, "xla": _XLA, "run_eagerly": _RUN_EAGERLY,
        "deterministic": _DETERMINISTIC, "seed": _SEED, "eval_every": _EVAL_EVERY,
        "eval_batches": _EVAL_BATCHES,
        "checkpoint_every": _CHECKPOINT_EVERY, "log_every": _LOG_EVERY,
        "steps_per_loop": _STEPS_PER_LOOP, "loss_spike_ratio": _LOSS_SPIKE_RATIO,
        "data_service": _DATA_SERVICE}.items()
        if flag.value is not None}
    if overrides.get("init_from") == "none":
        overrides["init_from"] = None
    if _PROFILE_STEPS.value is not None:
        overrides["profile_steps"] = tuple(int(s) for s in _PROFILE_STEPS.value)
    data = config.data
    if _DATASET.value is not None:
        data = dataclasses.replace(data, datasets=tuple(_DATASET.value), weights=())
    if _EVAL_DATASET.value is not None:
        data = dataclasses.replace(data, eval_datasets=tuple(_EVAL_DATASET.value))
    elif _DATASET.value is not None:
        data = dataclasses.replace(data, eval_datasets=())
    if _DATASET_WEIGHTS.value is not None:
        data = dataclasses.replace(data, weights=tuple(float(w) for w in _DATASET_WEIGHTS.value))
    if _DATA_DIR.value is not None:
        data = dataclasses.replace(data, data_dir=_DATA_DIR.value)
    model = config.model
    if _VARIANT.value is not None:
        model = dataclasses.replace(model, variant=_VARIANT.value)
    if _TOPOLOGY.value is not None:
        keypoints = topology_lib.get_topology(_TOPOLOGY.value)  # ValueError names the known
        model = dataclasses.replace(model, num_keypoints=keypoints.num_keypoints)
        data = dataclasses.replace(data, pipeline=dataclasses.replace(
            data.pipeline, topology=keypoints.name))
    optimizer = config.optimizer
    for name, flag in {"learning_rate": _LEARNING_RATE, "name": _OPTIMIZER,
                       "schedule": _SCHEDULE, "trunk_learning_rate_factor": _TRUNK_FACTOR,
                       "trunk_frozen_fraction": _TRUNK_FROZEN, "ema_momentum": _EMA}.items():
        if flag.value is not None:
            optimizer = dataclasses.replace(optimizer, **{name: flag.value})
    losses = dataclasses.replace(config.losses, **{name: flag.value for name, flag in {
        "heatmap": _HEATMAP_LOSS, "regression": _REGRESSION_LOSS,
        "preserve_weight": _PRESERVE_WEIGHT, "distill_weight": _DISTILL_WEIGHT}.items()
        if flag.value is not None})
    if _KEEP_FLOAT.value is not None:
        model = dataclasses.replace(model, keep_float=tuple(_KEEP_FLOAT.value))
    return dataclasses.replace(config, data=data, model=model, optimizer=optimizer,
                               losses=losses, **overrides)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    if config.num_cpu_devices:  # before anything initialises the runtime
        cpus = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * config.num_cpu_devices)
    # Before any other TF work: multi-worker collectives must be configured at startup.
    # Every check of hardware, data sets and splits happens here, before the model loads.
    # A ValueError leaving main is printed as one line (launch/__init__.py).
    try:
        strategy = make_strategy(config.strategy)
    except (ValueError, RuntimeError) as error:  # e.g. no TPU: "Please provide a TPU Name"
        raise ValueError(f"--strategy={config.strategy}: cannot start it on this machine "
                         f"({str(error).strip().splitlines()[0]})") from None
    task = PoseTask(config)
    prepare_sources(task.sources(True) + task.sources(False), flag="--dataset")
    trainer = Trainer(config, _MODEL_DIR.value, strategy=strategy, task=task)
    results = trainer.train()
    pck = results.get("pck@0.2", float("nan"))
    print(f"done: {config.train_steps} steps in {_MODEL_DIR.value}; validation pck@0.2={pck:.3f}; "
          f"tensorboard --logdir {_MODEL_DIR.value}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
