r"""Images/second of the training step (Full network, batch 16, 256x256, CPU), with and without
XLA, on in-memory tensors — the step the trainer traces, without the input pipeline.

  python benchmarks/train_step.py [--batch_size=16] [--steps=20] [--variant=full]

Prints a table and, as the last line, one JSON object with ``images_per_s`` and
``images_per_s_xla``. The original tf-blazepose Keras ``fit`` did about 12.9 images/s on this
machine type with its 3.25 M-parameter model (not re-run here).
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

ORIGINAL_IMAGES_PER_S = 12.9


def _measure(jit: bool) -> tuple[float, int]:
    import keras
    import numpy as np
    import tensorflow as tf

    from blazepose.data.config import TargetConfig
    from blazepose.data.ops import make_targets
    from blazepose.train.config import ModelSection, TrainConfig
    from blazepose.train.task import PoseTask
    from blazepose.train.trainer import make_optimizer

    config = TrainConfig(model=ModelSection(variant=_VARIANT.value), batch_size=_BATCH.value)
    task = PoseTask(config)
    full_model = task.build_model()
    model = task.training_view(full_model)  # what the trainer steps: no unused heads
    optimizer = make_optimizer(config)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    batch = make_targets({
        "keypoints": tf.constant(rng.uniform(0, 256, (_BATCH.value, 33, 2)), tf.float32),
        "labelled": tf.ones((_BATCH.value, 33), tf.bool)}, TargetConfig(), 256)
    batch.update(image=tf.constant(rng.random((_BATCH.value, 256, 256, 3), np.float32)),
                 visibility=tf.ones((_BATCH.value, 33)))

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


def main(argv):
    del argv
    plain, parameters = _measure(jit=False)
    xla = None if _SKIP_XLA.value else _measure(jit=True)[0]
    print(f"{_VARIANT.value} network, {parameters:,} parameters, batch {_BATCH.value}, "
          f"median of {_STEPS.value} steps, {os.cpu_count()} CPUs")
    print(f"{'step':24} {'images/s':>9} {'vs original fit':>16}")
    print(f"{'tf.function':24} {plain:9.1f} {plain / ORIGINAL_IMAGES_PER_S:15.2f}x")
    if xla is not None:
        print(f"{'tf.function + XLA':24} {xla:9.1f} {xla / ORIGINAL_IMAGES_PER_S:15.2f}x")
    print(f"{'original Keras fit':24} {ORIGINAL_IMAGES_PER_S:9.1f}   (tf-blazepose, not re-run)")
    print(json.dumps({"images_per_s": round(plain, 2),
                      "images_per_s_xla": None if xla is None else round(xla, 2),
                      "ratio_vs_original": round(plain / ORIGINAL_IMAGES_PER_S, 2),
                      "parameters": parameters, "batch_size": _BATCH.value}))


if __name__ == "__main__":
    app.run(main)
