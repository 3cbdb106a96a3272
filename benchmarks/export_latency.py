r"""Latency of our TFLite exports beside Google's own ``pose_landmark_full.tflite``.

  python benchmarks/export_latency.py [--repeats=100] [--threads=1,2] [--checkpoint=RUN]

Exports our landmark network (Google's weights imported, or a training run's checkpoint) through
``blazepose.export`` as float32, float16 and post-training int8 TFLite files, and as the
full-integer int8 of its quantisation-aware twin (``ours_int8_qat``: every layer int8;
``ours_int8_qat_mixed``: the regression branch kept in float32, ``--keep_float='reg*'``; from
``--qat_checkpoint`` runs when given, else the twin of the same weights with calibrated ranges:
the same graph, so the same latency), then times them and Google's file
in the same interpreter (LiteRT's when installed, else TensorFlow's; XNNPACK), with the same
thread counts, in the same run: the models are invoked in turn, round after round, so machine
noise hits all alike; a second interpreter on Google's file (``google_again``) shows how far a
ratio moves by noise alone. Prints median and p90 milliseconds per crop and the ratio to
Google's file; the last line is one JSON object with the figures. Targets: float16 no slower
than Google's file (ratio <= 1.0), int8 faster, int8 QAT at most 0.6x.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_REPEATS = flags.DEFINE_integer("repeats", 100, "Timed rounds per thread count.", lower_bound=5)
_THREADS = flags.DEFINE_list("threads", ["1", "2"], "Interpreter thread counts.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Export this training run (default "
                                  "preset) instead of Google's imported weights.")
_QAT_CHECKPOINT = flags.DEFINE_string("qat_checkpoint", None, "A quantisation-aware run "
                                      "(python -m launch.train --preset=qat) for the int8 QAT "
                                      "row instead of the calibrated twin of the source.")
_CALIBRATION = flags.DEFINE_integer("calibration_images", 16, "int8 calibration crops.",
                                    lower_bound=1)

QUANTIZATIONS = ("none", "float16", "int8")


def _export_all(scratch: str) -> tuple[dict, str]:
    """Exports the three TFLite files; returns ({name: path}, interpreter description)."""
    from blazepose.data.pipeline import DataSource
    from blazepose.export import ExportConfig, export_model, representative, sources
    from blazepose.model import quantization
    from blazepose.train import config as config_lib
    from datasets_tfds.prepare import prepare

    if _CHECKPOINT.value:
        source = sources.from_checkpoint(_CHECKPOINT.value, config_lib.get_preset("default"))
    else:
        source = sources.from_mediapipe()
    data = DataSource("synthetic_pose/tiny", "train", data_dir=os.path.join(scratch, "tfds"))
    prepare(data.name, data.data_dir, data.split)
    crops = representative.representative_crops(data, _CALIBRATION.value)
    saved_model = export_model(source, os.path.join(scratch, "saved_model"),
                               ExportConfig("saved_model"), print_fn=lambda *_: None)
    paths = {}
    for quantize in QUANTIZATIONS:
        result = export_model(source, os.path.join(scratch, quantize),
                              ExportConfig("tflite", quantize), representative=crops,
                              saved_model_dir=saved_model.directory, print_fn=lambda *_: None)
        paths[f"ours_{'float32' if quantize == 'none' else quantize}"] = str(result.model_path)
    if _QAT_CHECKPOINT.value:
        networks = {"ours_int8_qat": sources.from_checkpoint(_QAT_CHECKPOINT.value)}
    else:
        networks = {}
        for name, keep_float in (("ours_int8_qat", ()), ("ours_int8_qat_mixed", ("reg*",))):
            twin = quantization.quantize_model(source.model, keep_float)
            quantization.calibrate(twin, [crops])
            networks[name] = dataclasses.replace(source, model=twin)
    for name, network in networks.items():
        result = export_model(network, os.path.join(scratch, name),
                              ExportConfig("tflite", "int8"), print_fn=lambda *_: None)
        paths[name] = str(result.model_path)
    return paths, source.description["kind"]


def _interpreter_name() -> str:
    try:
        import ai_edge_litert

        return f"ai_edge_litert {getattr(ai_edge_litert, '__version__', '?')}"
    except ImportError:
        import tensorflow as tf

        return f"tf.lite (TensorFlow {tf.__version__})"


def _time_round_robin(paths: dict, threads: int, repeats: int) -> dict:
    import numpy as np

    from blazepose.pretrained.interpreter import make_interpreter

    image = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    calls = {}
    for name, path in paths.items():
        interpreter = make_interpreter(path, threads)
        index = interpreter.get_input_details()[0]["index"]
        interpreter.set_tensor(index, image)

        def call(interpreter=interpreter):
            interpreter.invoke()

        for _ in range(3):  # warm-up: XNNPACK packs weights on the first call
            call()
        calls[name] = call
    samples = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1e3)
    figures = {}
    for name, values in samples.items():
        values.sort()
        figures[name] = {"median_ms": round(statistics.median(values), 3),
                         "p90_ms": round(values[int(0.9 * (len(values) - 1))], 3)}
    google = figures["google"]["median_ms"]
    for name in figures:
        figures[name]["ratio_to_google"] = round(figures[name]["median_ms"] / google, 3)
    return figures


def main(argv):
    del argv
    from blazepose.pretrained import files

    threads = [int(t) for t in _THREADS.value]
    with tempfile.TemporaryDirectory() as scratch:
        ours, kind = _export_all(scratch)
        google = str(files.fetch_model_file("full"))
        # google_again: a second interpreter on Google's file, the noise floor of the ratios.
        paths = {"google": google, "google_again": google, **ours}
        results = {t: _time_round_robin(paths, t, _REPEATS.value) for t in threads}
    interpreter = _interpreter_name()
    print(f"{interpreter}, XNNPACK, {_REPEATS.value} rounds, {os.cpu_count()} CPUs, "
          f"ours = {kind} exported by blazepose.export; one 256x256 crop per call")
    header = f"{'threads':>7} {'model':20} {'median ms':>10} {'p90 ms':>8} {'/ google':>9}"
    print(header)
    print("-" * len(header))
    for t, figures in results.items():
        for name, row in figures.items():
            print(f"{t:>7} {name:20} {row['median_ms']:10.2f} {row['p90_ms']:8.2f} "
                  f"{row['ratio_to_google']:9.3f}")
    targets = {f"threads_{t}": {
        "float16_no_slower": figures["ours_float16"]["ratio_to_google"] <= 1.0,
        "float16_within_noise": abs(figures["ours_float16"]["ratio_to_google"] - 1.0)
        <= abs(figures["google_again"]["ratio_to_google"] - 1.0) + 0.01,
        "int8_faster": figures["ours_int8"]["ratio_to_google"] < 1.0,
        "int8_qat_at_most_0.6": figures["ours_int8_qat"]["ratio_to_google"] <= 0.6}
        for t, figures in results.items()}
    print(json.dumps({"interpreter": interpreter, "source": kind, "repeats": _REPEATS.value,
                      "results": {f"threads_{t}": f for t, f in results.items()},
                      "targets_met": targets}))


if __name__ == "__main__":
    app.run(main)
