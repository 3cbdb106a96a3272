r"""Images/second of the training step (Full network, batch 16, 256x256, CPU), with and without
XLA, on in-memory tensors — the step the trainer traces, without the input pipeline; and of the
trainer's runner (blazepose.train.runner: strategy.run of the task's step in a traced loop of
--steps_per_loop steps, one host sync per loop, and of 1 step, a host sync per step).

  python benchmarks/train_step.py [--batch_size=16] [--steps=20] [--variant=full]
                                  [--steps_per_loop=10] [--skip_xla] [--skip_runner]

Prints a table and, as the last line, one JSON object with ``images_per_s``,
``images_per_s_xla``, ``images_per_s_runner`` (loops of --steps_per_loop) and
``images_per_s_runner_1`` (loops of one step). The original tf-blazepose Keras ``fit`` did about
12.9 images/s on this machine type with its 3.25 M-parameter model (not re-run here).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_BATCH = flags.DEFINE_integer("batch_size", 16, "Batch size.", lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", 20, "Timed steps per configuration.", lower_bound=3)
_VARIANT = flags.DEFINE_enum("variant", "full", ["lite", "full", "heavy"], "Network.")
_SKIP_XLA = flags.DEFINE_bool("skip_xla", False, "Only the non-XLA step.")
_SKIP_RUNNER = flags.DEFINE_bool("skip_runner", False, "Not the trainer's runner.")
_STEPS_PER_LOOP = flags.DEFINE_integer("steps_per_loop", 10, "Steps per traced loop of the "
                                       "runner.", lower_bound=1)

ORIGINAL_IMAGES_PER_S = 12.9


def _batch():
    """A fixed training batch of random crops and keypoints, with its targets."""
    import numpy as np
    import tensorflow as tf

    from blazepose.data.config import TargetConfig
    from blazepose.data.ops import make_targets

    rng = np.random.default_rng(0)
    batch = make_targets({
        "keypoints": tf.constant(rng.uniform(0, 256, (_BATCH.value, 33, 2)), tf.float32),
        "labelled": tf.ones((_BATCH.value, 33), tf.bool)}, TargetConfig(), 256)
    batch.update(image=tf.constant(rng.random((_BATCH.value, 256, 256, 3), np.float32)),
                 visibility=tf.ones((_BATCH.value, 33)))
    return batch


def _measure(jit: bool) -> tuple[float, int]:
    import keras
    import tensorflow as tf

    from blazepose.train.config import ModelSection, TrainConfig
    from blazepose.train.optimization import make_optimizer
    from blazepose.train.task import PoseTask

    config = TrainConfig(model=ModelSection(variant=_VARIANT.value), batch_size=_BATCH.value)
    task = PoseTask(config)
    full_model = task.build_model()
    model = task.training_view(full_model)  # what the trainer steps: no unused heads
    optimizer = make_optimizer(config)
    optimizer.build(model.trainable_variables)
    batch = _batch()

    @tf.function(jit_compile=jit)
    def step(batch):
        with tf.GradientTape() as tape:
            outputs = model(batch["image"], training=True)
            loss = tf.reduce_mean(task.per_example_losses(batch, outputs)["total"])
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    for _ in range(3):
        step(batch).numpy()
    times = []
    for _ in range(_STEPS.value):
        start = time.perf_counter()
        step(batch).numpy()
        times.append(time.perf_counter() - start)
    keras.backend.clear_session()
    return _BATCH.value / statistics.median(times), full_model.count_params()


def _measure_runner(steps_per_loop: int) -> float:
    """Images/s of the trainer's Runner.train on an in-memory data set (the default strategy),
    host sync included: the median over loops, at least --steps steps timed."""
    import keras
    import tensorflow as tf

    from blazepose.train.config import ModelSection, TrainConfig
    from blazepose.train.optimization import make_optimizer
    from blazepose.train.runner import Runner
    from blazepose.train.task import PoseTask

    config = TrainConfig(model=ModelSection(variant=_VARIANT.value), batch_size=_BATCH.value,
                         steps_per_loop=steps_per_loop)
    task = PoseTask(config)
    strategy = tf.distribute.get_strategy()
    batch = _batch()
    with strategy.scope():
        model = task.training_view(task.build_model())
        optimizer = make_optimizer(config, model)
        step = tf.Variable(0, dtype=tf.int64, trainable=False)
    runner = Runner(task, strategy, model, optimizer, step)
    dataset = strategy.distribute_datasets_from_function(
        lambda context: tf.data.Dataset.from_tensors(batch).repeat())
    iterator = iter(dataset)
    for _ in range(max(1, 3 // steps_per_loop)):  # trace and warm up
        runner.train(iterator, steps_per_loop)
    times = []
    for _ in range(max(2, -(-_STEPS.value // steps_per_loop))):
        start = time.perf_counter()
        runner.train(iterator, steps_per_loop)
        times.append(time.perf_counter() - start)
    keras.backend.clear_session()
    return _BATCH.value * steps_per_loop / statistics.median(times)


def main(argv):
    del argv
    plain, parameters = _measure(jit=False)
    xla = None if _SKIP_XLA.value else _measure(jit=True)[0]
    loops = _STEPS_PER_LOOP.value
    runner = runner_1 = None
    if not _SKIP_RUNNER.value:
        runner, runner_1 = _measure_runner(loops), _measure_runner(1)
    print(f"{_VARIANT.value} network, {parameters:,} parameters, batch {_BATCH.value}, "
          f"median of {_STEPS.value} steps, {os.cpu_count()} CPUs")
    print(f"{'step':24} {'images/s':>9} {'vs original fit':>16}")
    print(f"{'tf.function':24} {plain:9.1f} {plain / ORIGINAL_IMAGES_PER_S:15.2f}x")
    if xla is not None:
        print(f"{'tf.function + XLA':24} {xla:9.1f} {xla / ORIGINAL_IMAGES_PER_S:15.2f}x")
    if runner is not None:
        for label, value in ((f"runner, {loops} steps/loop", runner),
                             ("runner, 1 step/loop", runner_1)):
            print(f"{label:24} {value:9.1f} {value / ORIGINAL_IMAGES_PER_S:15.2f}x")
    print(f"{'original Keras fit':24} {ORIGINAL_IMAGES_PER_S:9.1f}   (tf-blazepose, not re-run)")
    print(json.dumps({"images_per_s": round(plain, 2),
                      "images_per_s_xla": None if xla is None else round(xla, 2),
                      "images_per_s_runner": None if runner is None else round(runner, 2),
                      "images_per_s_runner_1": None if runner_1 is None else round(runner_1, 2),
                      "steps_per_loop": loops,
                      "ratio_vs_original": round(plain / ORIGINAL_IMAGES_PER_S, 2),
                      "parameters": parameters, "batch_size": _BATCH.value}))


if __name__ == "__main__":
    app.run(main)
