r"""Latency of our networks (TF graph function, CPU) beside Google's .tflite files (interpreter).

  python benchmarks/pretrained_latency.py [--repeats=30] [--threads=2] [--models=full,detector]

Both run in this process on the same inputs, alternating, so machine noise hits both alike.
Prints a table (median and p90 milliseconds per call, images/s, ratio ours / TFLite) and, as the
last line, one JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags
from timing import call_times_ms, median_and_p90

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_REPEATS = flags.DEFINE_integer("repeats", 30, "Timed calls per configuration.", lower_bound=3)
_THREADS = flags.DEFINE_integer("threads", 2, "Threads for both runtimes.", lower_bound=1)
_MODELS = flags.DEFINE_multi_enum("models", ["full", "detector"], ["full", "detector"],
                                  "Models to time.")
_BATCHES = flags.DEFINE_list("batches", ["1", "16"], "Batch sizes.")


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(_THREADS.value)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from blazepose.pretrained import files, importer
    from blazepose.pretrained.interpreter import make_interpreter

    rows, figures = [], {}
    for name in dict.fromkeys(_MODELS.value):
        model = importer.load_mediapipe_model(name)
        size = model.inputs[0].shape[1]
        graph_function = tf.function(lambda x, m=model: m(x, training=False), reduce_retracing=True)
        for batch in (int(b) for b in _BATCHES.value):
            images = np.random.default_rng(0).random((batch, size, size, 3), dtype=np.float32)
            tensor = tf.constant(images)
            interpreter = make_interpreter(files.fetch_model_file(name), _THREADS.value)
            input_index = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(input_index, [batch, size, size, 3])
            interpreter.allocate_tensors()

            def run_tflite(interpreter=interpreter, input_index=input_index, images=images):
                interpreter.set_tensor(input_index, images)
                interpreter.invoke()

            def run_ours(tensor=tensor, graph_function=graph_function):
                outputs = graph_function(tensor)
                next(iter(outputs.values())).numpy()

            ours_ms, ours_p90 = median_and_p90(call_times_ms(run_ours, _REPEATS.value))
            tflite_ms, tflite_p90 = median_and_p90(call_times_ms(run_tflite, _REPEATS.value))
            ratio = ours_ms / tflite_ms
            rows.append((name, batch, ours_ms, ours_p90, tflite_ms, tflite_p90, ratio))
            figures[f"{name}_b{batch}"] = {
                "ours_ms": round(ours_ms, 3), "tflite_ms": round(tflite_ms, 3),
                "ours_images_per_s": round(batch * 1e3 / ours_ms, 1),
                "tflite_images_per_s": round(batch * 1e3 / tflite_ms, 1),
                "ratio_ours_over_tflite": round(ratio, 3)}

    header = (f"{'model':9} {'batch':>5} {'ours ms':>9} {'p90':>8} {'img/s':>8} "
              f"{'tflite ms':>10} {'p90':>8} {'img/s':>8} {'ours/tflite':>12}")
    print(f"threads={_THREADS.value}, repeats={_REPEATS.value}, TF {tf.__version__}, "
          f"{os.cpu_count()} CPUs")
    print(header)
    print("-" * len(header))
    for name, batch, ours_ms, ours_p90, tflite_ms, tflite_p90, ratio in rows:
        print(f"{name:9} {batch:>5} {ours_ms:9.2f} {ours_p90:8.2f} {batch * 1e3 / ours_ms:8.1f} "
              f"{tflite_ms:10.2f} {tflite_p90:8.2f} {batch * 1e3 / tflite_ms:8.1f} {ratio:12.2f}")
    print(json.dumps({"threads": _THREADS.value, "results": figures}))


if __name__ == "__main__":
    app.run(main)
